import type { Plugin } from 'graphql-yoga';
import { admissionOf, forgetAdmission, noteBudget, rememberAdmission, type AdmissionControl } from '../admission/admission.js';
import type { ServerContext } from '../graphql-context.js';
import { refusalError } from '../http/reply.js';

export interface AdmissionPluginOptions {
  admission: AdmissionControl;
}

/**
 * Admits every GraphQL operation as soon as its parameters are known, before anything else
 * looks at it, the response cache included: a bad token, a spent budget or a cost over the limit
 * is refused at once, so it can never be served a cached response, nor a 304. Each operation of
 * a batch is admitted, and spends, on its own, as if it came alone: the ones the budget cannot
 * pay for are refused (429-shaped errors) while the others run. A request the cached-hit front
 * has already admitted keeps that admission.
 */
export function useAdmission({ admission }: AdmissionPluginOptions): Plugin {
  return {
    onRequest({ serverContext }) {
      // A lone operation's context is the server context, which yoga.fetch callers may reuse.
      const server = serverContext as ServerContext;
      const byFront = server.req && admissionOf(server.req);
      if (byFront) rememberAdmission(server, byFront);
      else forgetAdmission(server);
    },
    async onParams({ params, request, context, setResult }) {
      if (admissionOf(context)) return;
      const req = (context as ServerContext).req;
      const result = await admission.admit(
        {
          authorization: request.headers.get('authorization'),
          forwardedFor: request.headers.get('x-forwarded-for'),
          socketAddress: req?.socket.remoteAddress,
        },
        admission.prepare(params),
      );
      const budget = result.refusal ? result.refusal.budget : result.admitted.budget;
      if (budget) noteBudget(request, budget);
      if (result.refusal) setResult({ errors: [refusalError(result.refusal, { overHttp: true })] });
      else rememberAdmission(context, result.admitted);
    },
  };
}
