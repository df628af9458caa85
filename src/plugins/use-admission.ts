import type { Plugin } from 'graphql-yoga';
import { admissionOf, rememberAdmission, type AdmissionControl } from '../admission/admission.js';
import type { ServerContext } from '../graphql-context.js';
import { refusalReply } from '../http/reply.js';

export interface AdmissionPluginOptions {
  admission: AdmissionControl;
  /** Only requests to this path are operations. */
  endpoint: string;
}

/**
 * Admits every GraphQL request before anything else looks at it, the response cache included:
 * a bad token or a spent budget is refused at once, so it can never be served a cached response,
 * nor a 304. Requests the cached-hit front has already admitted keep that admission.
 */
export function useAdmission({ admission, endpoint }: AdmissionPluginOptions): Plugin {
  return {
    async onRequest({ request, url, serverContext, endResponse, fetchAPI }) {
      const req = (serverContext as ServerContext).req;
      const already = req && admissionOf(req);
      if (already) {
        rememberAdmission(request, already);
        return;
      }
      // GraphiQL's page and other plain GETs are not operations.
      if (url.pathname !== endpoint || (request.method === 'GET' && !url.searchParams.has('query'))) return;
      const result = await admission.admit({
        authorization: request.headers.get('authorization'),
        forwardedFor: request.headers.get('x-forwarded-for'),
        socketAddress: req?.socket.remoteAddress,
      });
      if (result.refusal) {
        const reply = refusalReply(result.refusal, request.headers.get('accept'));
        endResponse(new fetchAPI.Response(reply.body, { status: reply.status, headers: reply.headers }));
        return;
      }
      rememberAdmission(request, result.admitted);
    },
  };
}
