import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const MESSAGE = 'Text must not contain NUL (\\u0000) characters: PostgreSQL cannot store them.';

export const nulRefusal = () => new GraphQLError(MESSAGE, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, item]) => key.includes('\0') || containsNul(item));
  }
  return false;
}

const noNulInLiterals = (context: ValidationContext): ASTVisitor => ({
  StringValue(node) {
    if (node.value.includes('\0')) context.reportError(nulRefusal());
  },
});

/**
 * PostgreSQL text and jsonb cannot hold U+0000; refusing it up front, in variables and in
 * literals alike, turns what would be a database error into a clear 400 for any field.
 */
export function useNulGuard(): Plugin {
  return {
    onParams({ params, setResult }) {
      if (containsNul(params.variables)) setResult({ errors: [nulRefusal()] });
    },
    onValidate({ addValidationRule }) {
      addValidationRule(noNulInLiterals);
    },
  };
}
