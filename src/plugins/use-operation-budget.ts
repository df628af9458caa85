import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Viewer } from '../graphql-context.js';
import type { ServerContext } from '../request-context.js';
import { budgetHeaders, budgetRefusal } from '../rate-limit/budget-responses.js';
import type { BudgetDecision, OperationBudget, Spender } from '../rate-limit/operation-budget.js';
import { viewerOf } from './use-authentication.js';

const counted = new WeakMap<IncomingMessage, BudgetDecision>();

/** Records that the fast path already counted this request, so that yoga does not count it again. */
export function markCounted(req: IncomingMessage, decision: BudgetDecision): void {
  counted.set(req, decision);
}

/** Admins are not limited; users spend their tier's budget; anonymous callers their address's. */
export function spenderOf(viewer: Viewer | null, ip: string | null): Spender | null {
  if (viewer) return viewer.user.role === 'ADMIN' ? null : { userId: viewer.user.id, tier: viewer.user.tier };
  return { ip: ip ?? 'unknown' };
}

/**
 * Counts every GraphQL request against the caller's budget, right after authentication and
 * before the response cache, so cache hits count too; a spent budget gets 429.
 */
export function useOperationBudget(budget: OperationBudget, clientIp: (request: Request, server: ServerContext) => string | null): Plugin {
  const decisions = new WeakMap<Request, BudgetDecision>();
  return {
    async onRequest({ request, serverContext, endResponse, fetchAPI }) {
      const server = serverContext as ServerContext;
      const already = server.req && counted.get(server.req);
      if (already) {
        decisions.set(request, already);
        return;
      }
      // GraphiQL's page and other plain GETs are not operations.
      if (request.method === 'GET' && !new URL(request.url).searchParams.has('query')) return;
      const spender = spenderOf(viewerOf(request), clientIp(request, server));
      if (!spender) return;
      const decision = await budget.spend(spender);
      if (!decision.allowed) {
        const refusal = budgetRefusal(decision);
        endResponse(new fetchAPI.Response(refusal.body, { status: refusal.status, headers: refusal.headers }));
        return;
      }
      decisions.set(request, decision);
    },
    onResponse({ request, response }) {
      const decision = decisions.get(request);
      if (!decision) return;
      for (const [name, value] of Object.entries(budgetHeaders(decision))) response.headers.set(name, value);
    },
  };
}
