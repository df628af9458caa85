import type { ASTVisitor, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { nulRefusal, variablesProblem } from '../validation.js';

export interface InputGuardOptions {
  /** Deepest nesting of objects and lists accepted in one variable (MAX_VARIABLE_DEPTH). */
  maxVariableDepth: number;
}

const noNulInLiterals = (context: ValidationContext): ASTVisitor => ({
  StringValue(node) {
    if (node.value.includes('\0')) context.reportError(nulRefusal());
  },
});

/**
 * Refuses, with a 400, input PostgreSQL cannot hold (U+0000, in variables and in literals alike)
 * and variables nested too deep to walk safely. Variables are checked as soon as yoga has parsed
 * the request, not in onParams: yoga runs every onParams hook even after one has set a result,
 * and the response cache's hook hashes the variables with a recursive stringify.
 */
export function useInputGuard({ maxVariableDepth }: InputGuardOptions): Plugin {
  return {
    onRequestParse() {
      return {
        onRequestParseDone({ requestParserResult }) {
          for (const params of Array.isArray(requestParserResult) ? requestParserResult : [requestParserResult]) {
            const problem = variablesProblem(params.variables, maxVariableDepth);
            if (problem) throw problem;
          }
        },
      };
    },
    onValidate({ addValidationRule }) {
      addValidationRule(noNulInLiterals);
    },
  };
}
