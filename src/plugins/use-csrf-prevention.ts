import type { Plugin } from 'graphql-yoga';
import { csrfRefusal } from '../http/csrf-prevention.js';
import { refusalReply } from '../http/reply.js';

/**
 * The CSRF rule (csrf-prevention.ts) for requests that reach yoga without the HTTP server, which
 * applies it to everything it receives (yoga.fetch, in process): before anything reads the body.
 */
export function useCsrfPrevention(): Plugin {
  return {
    onRequest({ request, endResponse, fetchAPI }) {
      const refusal = csrfRefusal({ method: request.method, header: (name) => request.headers.get(name) });
      if (!refusal) return;
      const reply = refusalReply(refusal, request.headers.get('accept'));
      endResponse(new fetchAPI.Response(reply.body, { status: reply.status, headers: reply.headers }));
    },
  };
}
