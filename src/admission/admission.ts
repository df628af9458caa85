import type { GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { InvalidationLog } from '../cache/invalidation-log.js';
import type { ReadPosition } from '../cache/store.js';
import type { BudgetDecision, RateLimiter, Spender } from '../rate-limit/rate-limiter.js';
import { isAdmin, type Viewer } from '../request-scope.js';
import type { Authenticate } from './auth-strategy.js';
import { addressIdentity, clientIp } from './client-ip.js';
import { createFieldAllowances, type FieldAllowances } from './field-allowances.js';
import type { FieldLimits } from './field-limits.js';
import { limitCountsOf } from './limit-counts.js';
import { operationCost, type CostOptions, type OperationCost } from './operation-cost.js';
import { createDocumentMemo, type OperationParams } from './operation-document.js';
import { variablesProblem } from '../validation.js';
import { badInput, costTooHigh, fieldRateLimited, rateLimited, RefusedError, unavailable, withBudget, type Refusal } from './refusal.js';

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
  /** The calls of rate-limited fields it was granted; null for callers without limits (admins). */
  allowances: FieldAllowances | null;
  read: ReadPosition;
}

export type Admission = { admitted: Admitted; refusal?: undefined } | { refusal: Refusal; admitted?: undefined };

/**
 * What admission knows of an operation before it knows who sends it: its cost, or why it is
 * refused whoever sends it (variables it cannot walk, a cost over the limit). It depends on the
 * operation alone, so a transport may keep it for an operation it sees again.
 */
export type PreparedOperation = { cost: OperationCost; refusal?: undefined } | { refusal: Refusal; cost?: undefined };

/** Admins are not limited; users (and their API keys) spend their tier's budget; anonymous callers their address's. */
export function spenderOf(viewer: Viewer | null, ip: string | null): Spender | null {
  if (viewer) return isAdmin(viewer) ? null : { userId: viewer.user.id, tier: viewer.user.tier };
  return { ip: addressIdentity(ip) };
}

export interface AdmissionOptions {
  authenticate: Authenticate;
  limiter: RateLimiter;
  log: InvalidationLog;
  schema: GraphQLSchema;
  fieldLimits: FieldLimits;
  cost: CostOptions;
  /** Points above which an operation is refused before anything runs. */
  maxOperationCost: number;
  /** Most tokens parsed in one document. */
  maxTokens: number;
  /** Deepest nesting of objects and lists accepted in one variable. */
  maxVariableDepth: number;
  trustProxy: boolean;
  logger: Logger;
}

/**
 * Who calls and what they may spend, decided once for every transport (yoga's pipeline, the
 * cached-hit front, WebSocket operations): authenticate through the strategies (a refused
 * credential spends its address's budget), take the client address, cost the operation from
 * its document and variables, and decide its budget and every rate-limited field's calls in one
 * atomic step. That step's round trip to Redis also returns the invalidation log's position,
 * which becomes the request's read position, so that a read starting after a write was
 * acknowledged sees it on any instance at no extra cost.
 */
export function createAdmission(options: AdmissionOptions) {
  const { authenticate, log, limiter } = options;
  const documents = createDocumentMemo(options.maxTokens);

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

  /** The cost of an operation; a flat point for one that does not parse (yoga then says why). */
  function costOf(operation: OperationParams | null): OperationCost {
    const document = operation?.query ? documents.parse(operation.query) : null;
    return operationCost(options.schema, document, operation?.operationName, operation?.variables, options.fieldLimits, options.cost);
  }

  /** A refused credential costs its address one point, so that guessing tokens is limited like anything else. */
  async function refuseCredential(refusal: Refusal, ip: string | null): Promise<Refusal> {
    if (refusal.status !== 401) return refusal;
    const spent = await limiter.spend({ spender: { ip: addressIdentity(ip) }, points: 1, calls: [], refuseWhenAllRefused: false });
    if (!spent.decision) return refusal;
    return spent.decision.allowed ? withBudget(refusal, spent.decision) : rateLimited(spent.decision);
  }

  return {
    identify,
    /** The operation's cost, or the refusal it earns whoever sends it (null: none could be read; a flat point, and yoga says why). */
    prepare(operation: OperationParams | null): PreparedOperation {
      // Before anything walks them (costing, the response-cache key): the check itself does not recurse.
      const problem = operation && variablesProblem(operation.variables, options.maxVariableDepth);
      if (problem) return { refusal: badInput(problem) };
      const cost = costOf(operation);
      if (cost.points > options.maxOperationCost) return { refusal: costTooHigh(cost.points, options.maxOperationCost) };
      return { cost };
    },
    /**
     * `identified`, if given, hears who calls as soon as the credential is checked, before the
     * budget's round trip, so that a transport can start what depends on the caller alongside it
     * (the viewer may still change: an invalidation the round trip reveals makes it look again).
     */
    async admit(request: AdmissionRequest, operation: PreparedOperation, identified?: (viewer: Viewer | null) => void): Promise<Admission> {
      if (operation.refusal) return { refusal: operation.refusal };
      const { cost } = operation;
      const ip = clientIp(options.trustProxy, request.forwardedFor, request.socketAddress);
      // The session is looked up before the position is known: at what this instance has applied.
      const provisional = log.position();
      const first = await identify(request.authorization, { ...provisional, exact: true });
      if ('refusal' in first) return { refusal: await refuseCredential(first.refusal, ip) };
      identified?.(first.viewer);

      const spender = spenderOf(first.viewer, ip);
      const calls = spender === null ? [] : limitCountsOf(cost.limitedCalls, first.viewer, ip);
      const spent = await limiter.spend({ spender, points: cost.points, calls, refuseWhenAllRefused: cost.onlyLimitedRoots });
      // A key spends its user's budget; its decisions name it, so a client with several keys sees which one spent.
      if (spent.decision && first.viewer?.apiKey) spent.decision = { ...spent.decision, apiKey: first.viewer.apiKey.prefix };
      if (spent.decision && !spent.decision.allowed) return { refusal: rateLimited(spent.decision) };
      const allowances = spender === null ? null : createFieldAllowances(cost.limitedCalls, spent.grants);
      const refusedWhole = spent.refusedByLimits ? allowances?.firstRefusal() : null;
      if (refusedWhole) return { refusal: fieldRateLimited(refusedWhole, spent.decision) };

      const read = spent.log ? log.observe(spent.log.generation, spent.log.position) : log.position();
      let { viewer } = first;
      if (viewer && !(read.exact && read.gen === provisional.gen && read.pos <= provisional.pos)) {
        // An invalidation this instance had not applied (a logout elsewhere) may concern the
        // session: look again, at the request's own position.
        const again = await identify(request.authorization, read);
        if ('refusal' in again) return { refusal: again.refusal };
        viewer = again.viewer;
      }
      return { admitted: { viewer, clientIp: ip, budget: spent.decision, allowances, read } };
    },
  };
}

export type AdmissionControl = ReturnType<typeof createAdmission>;

/**
 * Admissions by operation. An operation is known by the object its GraphQL context is built on:
 * in yoga, a lone operation's is its request's server context and each operation of a batch has
 * its own; the WebSocket transport makes one per operation; the cached-hit front, which admits
 * before yoga, uses the node request (`req`), whose admission yoga then takes over; graphql-sse's
 * single-connection mode, which builds each operation's context itself, uses the operation's
 * fetch `Request` (the context factory looks there when the context object has none).
 */
const admittedOperations = new WeakMap<object, Admitted>();

export function rememberAdmission(operation: object, admitted: Admitted): void {
  admittedOperations.set(operation, admitted);
}

export function forgetAdmission(operation: object): void {
  admittedOperations.delete(operation);
}

export function admissionOf(operation: object): Admitted | undefined {
  return admittedOperations.get(operation);
}

/** The admission of the operation whose GraphQL context this is: its own, or (graphql-sse's single-connection mode) its request's. */
export function admissionOfContext(context: { request?: object }): Admitted | undefined {
  return admittedOperations.get(context) ?? (context.request && admittedOperations.get(context.request));
}

/** By HTTP request: the budget as the latest of its operations left it (the lowest remaining; for a batch's reply). */
const requestBudgets = new WeakMap<Request, BudgetDecision>();

export function noteBudget(request: Request, decision: BudgetDecision): void {
  const known = requestBudgets.get(request);
  if (!known || decision.remaining <= known.remaining) requestBudgets.set(request, decision);
}

export const budgetOfRequest = (request: Request): BudgetDecision | undefined => requestBudgets.get(request);
