import type { ASTVisitor, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { nulRefusal } from '../validation.js';

const noNulInLiterals = (context: ValidationContext): ASTVisitor => ({
  StringValue(node) {
    if (node.value.includes('\0')) context.reportError(nulRefusal());
  },
});

/**
 * Refuses, with a 400, string literals PostgreSQL cannot hold (U+0000). Variables are admission's
 * to check, on every transport (see admission/admission.ts).
 */
export function useInputGuard(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noNulInLiterals);
    },
  };
}
