import type { Logger } from 'pino';
import type { InvalidationLog } from '../cache/invalidation-log.js';
import type { ReadPosition } from '../cache/store.js';
import type { BudgetDecision, OperationBudget, Spender } from '../rate-limit/operation-budget.js';
import type { Viewer } from '../request-scope.js';
import type { Authenticate } from './auth-strategy.js';
import { clientIp } from './client-ip.js';
import { rateLimited, RefusedError, unavailable, type Refusal } from './refusal.js';

/** What admission needs of a request, from any transport. */
export interface AdmissionRequest {
  authorization: string | null;
  forwardedFor: string | null;
  socketAddress: string | undefined;
}

/** A request let in: who calls, from where, what it spent, and the read position of its cache reads. */
export interface Admitted {
  viewer: Viewer | null;
  clientIp: string | null;
  /** Null for callers without a budget (admins). */
  budget: BudgetDecision | null;
  read: ReadPosition;
}

export type Admission = { admitted: Admitted; refusal?: undefined } | { refusal: Refusal; admitted?: undefined };

/** Admins are not limited; users spend their tier's budget; anonymous callers their address's. */
export function spenderOf(viewer: Viewer | null, ip: string | null): Spender | null {
  if (viewer) return viewer.user.role === 'ADMIN' ? null : { userId: viewer.user.id, tier: viewer.user.tier };
  return { ip: ip ?? 'unknown' };
}

export interface AdmissionOptions {
  authenticate: Authenticate;
  budget: OperationBudget;
  log: InvalidationLog;
  trustProxy: boolean;
  logger: Logger;
}

/**
 * Who calls and what they may spend, decided once for every transport (yoga's pipeline, the
 * cached-hit front, WebSocket operations): authenticate through the strategies, take the client
 * address, spend the budget, refuse. The budget's round trip to Redis also returns the
 * invalidation log's position, which becomes the request's read position, so that a read
 * starting after a write was acknowledged sees it on any instance at no extra cost.
 */
export function createAdmission(options: AdmissionOptions) {
  const { authenticate, log } = options;

  /** The viewer, or the refusal its credential earns; its cache reads at `read` (by default, this instance's view). */
  async function identify(authorization: string | null, read: ReadPosition = log.position()): Promise<{ viewer: Viewer | null } | { refusal: Refusal }> {
    try {
      return { viewer: await authenticate(authorization, read) };
    } catch (error) {
      if (error instanceof RefusedError) return { refusal: error.refusal };
      // The credential could not be checked (the database is down).
      options.logger.error({ err: error }, 'unexpected error');
      return { refusal: unavailable() };
    }
  }

  return {
    identify,
    async admit(request: AdmissionRequest): Promise<Admission> {
      const ip = clientIp(options.trustProxy, request.forwardedFor, request.socketAddress);
      // The session is looked up before the position is known: at what this instance has applied.
      const provisional = log.position();
      const first = await identify(request.authorization, { ...provisional, exact: true });
      if ('refusal' in first) return { refusal: first.refusal };
      const spent = await options.budget.spend(spenderOf(first.viewer, ip));
      const read = spent.log ? log.observe(spent.log.generation, spent.log.position) : log.position();
      if (spent.decision && !spent.decision.allowed) return { refusal: rateLimited(spent.decision) };
      let { viewer } = first;
      if (viewer && !(read.exact && read.gen === provisional.gen && read.pos <= provisional.pos)) {
        // An invalidation this instance had not applied (a logout elsewhere) may concern the
        // session: look again, at the request's own position.
        const again = await identify(request.authorization, read);
        if ('refusal' in again) return { refusal: again.refusal };
        viewer = again.viewer;
      }
      return { admitted: { viewer, clientIp: ip, budget: spent.decision, read } };
    },
  };
}

export type AdmissionControl = ReturnType<typeof createAdmission>;

/** Admissions made before yoga saw the request (by the cached-hit front), so that yoga does not admit it twice. */
const admittedRequests = new WeakMap<object, Admitted>();

export function rememberAdmission(request: object, admitted: Admitted): void {
  admittedRequests.set(request, admitted);
}

export function admissionOf(request: object): Admitted | undefined {
  return admittedRequests.get(request);
}
