import { isAsyncIterable, processRegularResult, type Plugin } from 'graphql-yoga';
import { jsonMediaType } from '../http/reply.js';

/**
 * An operation asked for as an event stream that ends in errors before any stream begins (no
 * credential, a document that does not validate, an unknown context, the subscription cap) is
 * answered as JSON with a status of 400 or more, never as a 200 stream holding one error event:
 * a browser's EventSource reconnects every few seconds after a stream that ended, but gives up
 * for good on a reply that is not 200 or not `text/event-stream` (HTML, "fail the connection").
 * The body is the GraphQL error, as any JSON reply carries it.
 */
export function useEventStreamErrors(): Plugin {
  return {
    onResultProcess({ request, result, setResultProcessor }) {
      if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.length || !acceptsOnlyEventStream(request.headers.get('accept'))) return;
      setResultProcessor((errored, fetchAPI) => {
        const response = processRegularResult(errored, fetchAPI, 'application/json') as Response;
        if (response.status >= 400) return response;
        return new fetchAPI.Response(response.body, { status: 400, headers: response.headers });
      }, 'application/json');
    },
  };
}

/** What EventSource sends (`text/event-stream`): a client that takes a JSON reply gets one anyway. */
function acceptsOnlyEventStream(accept: string | null): boolean {
  return accept !== null && accept.includes('text/event-stream') && jsonMediaType(accept) === null;
}
