import { GraphQLError } from 'graphql';
import { z } from 'zod';
import { RefusedError } from '../admission/refusal.js';
import type { MemoryEventRow } from '../db/rows.js';
import type { ChangeReason } from '../domain/change.js';
import { clientError } from '../errors.js';
import { isEventId } from '../events/event-ids.js';
import type { CacheInvalidationModel } from '../events/recall-event.js';
import { createSubscriptionStream, StreamEnd, type Delivery, type SubscriptionStreamOptions } from '../events/subscription-stream.js';
import { spenderOf } from '../admission/admission.js';
import type { RequestScope, Viewer } from '../request-scope.js';
import { parseArgs } from '../validation.js';
import { canAccess, requireViewer, visibleContext } from './access.js';
import type { SubscriptionTransport } from '../http/subscription-transport.js';

const MAX_FILTER_VALUES = 100;

/** Changes after which a subscriber of the owner checks its credential (session or key) again: it may be the one that ended. */
const ENDS_CREDENTIALS: ReadonlySet<string> = new Set<ChangeReason>(['SESSION_ENDED', 'API_KEY_REVOKED', 'USER_DELETED']);

const filterArgs = z
  .object({
    typenames: z.array(z.string().max(64)).max(MAX_FILTER_VALUES).nullish(),
    ids: z.array(z.string().max(64)).max(MAX_FILTER_VALUES).nullish(),
    contextId: z.string().nullish(),
  })
  .nullish();

export type InvalidationFilterInput = z.input<typeof filterArgs>;

type Stream<T> = AsyncIterableIterator<Delivery<T> | StreamEnd>;

/** What a subscription needs of its transport. */
export interface StreamRequest {
  /** The id to resume after (Last-Event-ID over SSE, `extensions.lastEventId` over WebSocket). */
  lastEventId: string | null;
  /** Aborted when the client leaves. */
  signal: AbortSignal;
  /** The Authorization the subscription was opened with: checked again for every event. */
  authorization: string | null;
  /** The client's address: anonymous callers' subscriptions are capped by it. */
  clientIp: string | null;
  /** How the subscriber is reached (a metric's label). */
  transport: SubscriptionTransport;
}

/** `cacheInvalidated`: the viewer's invalidations (everyone's for admins), narrowed by the filter. */
export async function subscribeToInvalidations(
  scope: RequestScope,
  filterInput: InvalidationFilterInput,
  request: StreamRequest,
): Promise<Stream<CacheInvalidationModel>> {
  const viewer = requireViewer(scope);
  const filter = parseArgs(filterArgs, filterInput);
  if (filter?.contextId && !(await visibleContext(scope, filter.contextId))) {
    throw clientError('NOT_FOUND', 'No context with this id.');
  }
  const typenames = filter?.typenames ? new Set(filter.typenames) : null;
  const ids = filter?.ids ? new Set(filter.ids) : null;
  const contextId = filter?.contextId ?? null;
  const { bus } = scope.deps.events;

  return openStream(scope, request, 'cacheInvalidated', {
    select: async (event) => {
      if (event.kind !== 'invalidation' || !canAccess(viewer, event.ownerId)) return null;
      const { entities } = event.invalidation;
      if (contextId !== null && event.contextId !== contextId) return null;
      if (typenames && !entities.some((entity) => typenames.has(entity.typename))) return null;
      if (ids && !entities.some((entity) => entity.id !== null && ids.has(entity.id))) return null;
      if (!canAccess(await stillSignedIn(scope, request), event.ownerId)) return null;
      return { ...event.invalidation, id: event.id, contextId: event.contextId };
    },
    gapNotice: (after) => ({
      eventId: after,
      position: null,
      value: { id: after, entities: [], reason: 'RESYNC', occurredAt: scope.deps.clock.now(), source: bus.source, contextId },
    }),
  });
}

/** `memoryEvents`: the history events of one context the viewer may see, as they are written. */
export async function subscribeToMemoryEvents(scope: RequestScope, contextId: string, request: StreamRequest): Promise<Stream<MemoryEventRow>> {
  const context = await visibleContext(scope, contextId);
  if (!context) throw clientError('NOT_FOUND', 'No context with this id.');
  return openStream(scope, request, 'memoryEvents', {
    select: async (event) => {
      if (event.contextId !== context.id) return null;
      if (event.kind === 'invalidation') {
        if (event.invalidation.reason === 'CONTEXT_DELETED') throw clientError('NOT_FOUND', 'The context was deleted.');
        return null;
      }
      if (!canAccess(await stillSignedIn(scope, request), event.ownerId)) return null;
      return event.memoryEvent;
    },
  });
}

interface StreamSpec<T> {
  select: SubscriptionStreamOptions<T>['select'];
  gapNotice?(after: string): Delivery<T>;
}

/**
 * Where every subscription opens, whatever its field and transport: after its own checks, it
 * takes one of its caller's slots (or is refused RATE_LIMITED), and gives it back when it ends.
 */
async function openStream<T>(scope: RequestScope, request: StreamRequest, field: string, spec: StreamSpec<T>): Promise<Stream<T>> {
  const { config, subscriptionSlots } = scope.deps;
  const { bus, metrics, streams } = scope.deps.events;
  const after = resumeAfter(request.lastEventId);
  const releaseSlot = await subscriptionSlots.take(spenderOf(scope.viewer, request.clientIp));
  const labels = { field, transport: request.transport };
  metrics.subscriptions.inc(labels);
  const stream = createSubscriptionStream<T>({
    bus,
    after,
    replayLimit: config.EVENT_REPLAY_LIMIT,
    queueLimit: config.SUBSCRIPTION_QUEUE_LIMIT,
    select: async (event) => {
      // An ended credential of this user may be this stream's: check before anything is delivered,
      // at the event's position (this instance may not yet have applied its invalidation).
      if (event.kind === 'invalidation' && ENDS_CREDENTIALS.has(event.invalidation.reason) && event.ownerId === scope.viewer?.user.id) {
        await stillSignedIn(scope, request, event.position);
      }
      const value = await spec.select(event);
      if (value !== null) metrics.delivered.inc(labels);
      return value;
    },
    onBacklog(replayed, complete) {
      metrics.replayed.inc(labels, replayed);
      if (!complete) metrics.resyncs.inc(labels);
    },
    ...(spec.gapNotice && after ? { gapNotice: () => spec.gapNotice!(after) } : {}),
    onClose(reason) {
      releaseSlot();
      streams.delete(stream);
      metrics.subscriptions.dec(labels);
      if (reason !== 'client') metrics.ended.inc({ reason });
    },
  });
  streams.add(stream);
  // A client gone before its response began (or while its slot was taken) never reads the
  // stream, nor returns from it.
  const { signal } = request;
  if (signal.aborted) void stream.return!();
  else signal.addEventListener('abort', () => void stream.return!(), { once: true });
  return stream;
}

function resumeAfter(lastEventId: string | null): string | null {
  const id = lastEventId?.trim();
  if (!id) return null;
  if (!isEventId(id)) {
    throw clientError('BAD_USER_INPUT', 'Last-Event-ID must be the id of an event this server sent, such as 1795300000000-0.');
  }
  return id;
}

/**
 * The viewer again, from the token of the subscription: a session that has been revoked or has
 * expired since ends the stream, as it would refuse a new request.
 */
async function stillSignedIn(scope: RequestScope, request: StreamRequest, at: number | null = null): Promise<Viewer> {
  const here = scope.deps.cache.log.position();
  try {
    const viewer = await scope.deps.authenticate(request.authorization, at === null || at <= here.pos ? here : { ...here, pos: at, exact: true });
    if (!viewer) throw clientError('UNAUTHENTICATED', 'Authentication required.');
    scope.viewer = viewer;
    return viewer;
  } catch (error) {
    if (error instanceof RefusedError) throw clientError('UNAUTHENTICATED', error.refusal.message);
    if (error instanceof GraphQLError) throw error;
    scope.deps.logger.error({ err: error }, 'could not check the session of a subscription');
    throw new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  }
}
