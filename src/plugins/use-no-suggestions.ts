import { GraphQLError, type ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';

/** graphql-js's hint, as its `didYouMean` words it: `Did you mean "name"?`, `Did you mean the enum value "FREE"?`. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** The error without its "Did you mean …?" hint (the same error when it has none). */
export function withoutSuggestion<E extends Error>(error: E): E | GraphQLError {
  const message = error.message.replace(SUGGESTION, '');
  if (message === error.message || !(error instanceof GraphQLError)) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

function stripResult({ result, setResult }: { result: ExecutionResult; setResult(result: ExecutionResult): void }) {
  const errors = result.errors?.map(withoutSuggestion);
  if (errors?.some((error, index) => error !== result.errors![index])) setResult({ ...result, errors });
}

/**
 * Removes the names graphql-js suggests from errors (FIELD_SUGGESTIONS=false), which would
 * otherwise let anyone map a schema they may not introspect by guessing near names: from
 * validation errors (fields, arguments, types, enum literals), on every transport, and from the
 * errors of variables that do not fit their types, which execution reports.
 */
export function useNoSuggestions(): Plugin {
  return {
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map(withoutSuggestion));
      };
    },
    onExecute() {
      return { onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, stripResult) };
    },
    onSubscribe() {
      return { onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, stripResult) };
    },
  };
}
