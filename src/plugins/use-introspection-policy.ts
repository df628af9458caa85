import { GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { admissionOfContext } from '../admission/admission.js';
import { isAdmin } from '../request-scope.js';

/** Who may query the schema (__schema, __type): anyone, admins only, or nobody (INTROSPECTION). */
export type IntrospectionMode = 'on' | 'admins' | 'off';

export interface IntrospectionPolicyOptions {
  /** Default: on. */
  mode?: IntrospectionMode;
}

/**
 * Refuses introspection to whom the mode does not allow it, as a validation error, on every
 * transport (each validates through yoga's plugins). The viewer is the operation's admission,
 * made before validation; an operation with none is nobody's, so not an admin's. yoga keeps
 * validation results by the names of the rules applied, so an admin's valid result is never
 * reused for anyone else. A cached response cannot bypass it either: responses are cached per
 * viewer, and anonymous callers are never served one.
 */
export function useIntrospectionPolicy({ mode = 'on' }: IntrospectionPolicyOptions = {}): Plugin {
  if (mode === 'on') return {};
  const rule = introspectionRefused(
    mode === 'off'
      ? 'Introspection is disabled (INTROSPECTION=off).'
      : 'Introspection is disabled: only admins may query __schema and __type (INTROSPECTION=admins).',
  );
  return {
    onValidate({ context, addValidationRule }) {
      const viewer = admissionOfContext(context as { request?: object })?.viewer;
      if (mode === 'admins' && viewer && isAdmin(viewer)) return;
      addValidationRule(rule);
    },
  };
}

/** Like graphql's NoSchemaIntrospectionCustomRule, once per meta field asked for, with a message saying who may. */
function introspectionRefused(message: string): ValidationRule {
  return function IntrospectionRefusedRule(context) {
    return {
      Field(node) {
        const name = node.name.value;
        if (name === '__schema' || name === '__type') context.reportError(new GraphQLError(message, { nodes: node, extensions: { code: 'FORBIDDEN' } }));
      },
    };
  };
}
