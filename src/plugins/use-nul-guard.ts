import type { ASTVisitor, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { containsNul, nulRefusal } from '../validation.js';

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
