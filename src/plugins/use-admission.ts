import type { Plugin } from 'graphql-yoga';
import { admissionOf, rememberAdmission, type AdmissionControl } from '../admission/admission.js';
import type { ServerContext } from '../graphql-context.js';
import { refusalError } from '../http/reply.js';

export interface AdmissionPluginOptions {
  admission: AdmissionControl;
}

/**
 * Admits every GraphQL operation as soon as its parameters are known, before anything else
 * looks at it, the response cache included: a bad token, a spent budget or a cost over the limit
 * is refused at once, so it can never be served a cached response, nor a 304. Requests the
 * cached-hit front has already admitted keep that admission.
 */
export function useAdmission({ admission }: AdmissionPluginOptions): Plugin {
  return {
    onRequest({ request, serverContext }) {
      const req = (serverContext as ServerContext).req;
      const already = req && admissionOf(req);
      if (already) rememberAdmission(request, already);
    },
    async onParams({ params, request, context, setResult }) {
      if (admissionOf(request)) return;
      const req = (context as ServerContext).req;
      const result = await admission.admit(
        {
          authorization: request.headers.get('authorization'),
          forwardedFor: request.headers.get('x-forwarded-for'),
          socketAddress: req?.socket.remoteAddress,
        },
        admission.prepare(params),
      );
      if (result.refusal) setResult({ errors: [refusalError(result.refusal, { overHttp: true })] });
      else rememberAdmission(request, result.admitted);
    },
  };
}
