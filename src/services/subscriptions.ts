import { GraphQLError } from 'graphql';
import { z } from 'zod';
import type { CacheInvalidationFilter } from '../__generated__/resolvers-types.js';
import { authenticate } from '../auth/sessions.js';
import type { MemoryEventRow } from '../db/rows.js';
import { clientError } from '../errors.js';
import { isEventId } from '../events/event-ids.js';
import type { CacheInvalidationModel } from '../events/recall-event.js';
import { createSubscriptionStream, StreamEnd, type Delivery, type SubscriptionStreamOptions } from '../events/subscription-stream.js';
import type { GraphQLContext } from '../graphql-context.js';
import { createLoaders } from '../loaders/create-loaders.js';
import { parseArgs } from '../validation.js';
import { canAccess, requireViewer, visibleContext } from './access.js';

/** The header EventSource sends when it reconnects: the id of the last event it received. */
export const LAST_EVENT_ID_HEADER = 'last-event-id';

const MAX_FILTER_VALUES = 100;

const filterArgs = z
  .object({
    typenames: z.array(z.string().max(64)).max(MAX_FILTER_VALUES).nullish(),
    ids: z.array(z.string().max(64)).max(MAX_FILTER_VALUES).nullish(),
    contextId: z.string().nullish(),
  })
  .nullish();

type Stream<T> = AsyncIterableIterator<Delivery<T> | StreamEnd>;

/** `cacheInvalidated`: the viewer's invalidations (everyone's for admins), narrowed by the filter. */
export async function subscribeToInvalidations(
  ctx: GraphQLContext,
  filterInput: CacheInvalidationFilter | null | undefined,
): Promise<Stream<CacheInvalidationModel>> {
  const viewer = requireViewer(ctx);
  const filter = parseArgs(filterArgs, filterInput);
  if (filter?.contextId && !(await visibleContext(ctx, filter.contextId))) {
    throw clientError('NOT_FOUND', 'No context with this id.');
  }
  const typenames = filter?.typenames ? new Set(filter.typenames) : null;
  const ids = filter?.ids ? new Set(filter.ids) : null;
  const contextId = filter?.contextId ?? null;
  const { bus } = ctx.deps.events;

  return openStream(ctx, 'cacheInvalidated', {
    select: async (event) => {
      if (event.kind !== 'invalidation' || !canAccess(viewer, event.ownerId)) return null;
      const { entities } = event.invalidation;
      if (contextId !== null && event.contextId !== contextId) return null;
      if (typenames && !entities.some((entity) => typenames.has(entity.typename))) return null;
      if (ids && !entities.some((entity) => entity.id !== null && ids.has(entity.id))) return null;
      if (!canAccess(await stillSignedIn(ctx), event.ownerId)) return null;
      return { ...event.invalidation, id: event.id, contextId: event.contextId };
    },
    gapNotice: (after) => ({
      eventId: after,
      value: { id: after, entities: [], reason: 'RESYNC', occurredAt: ctx.deps.clock.now(), source: bus.source, contextId },
    }),
  });
}

/** `memoryEvents`: the history events of one context the viewer may see, as they are written. */
export async function subscribeToMemoryEvents(ctx: GraphQLContext, contextId: string): Promise<Stream<MemoryEventRow>> {
  const context = await visibleContext(ctx, contextId);
  if (!context) throw clientError('NOT_FOUND', 'No context with this id.');
  return openStream(ctx, 'memoryEvents', {
    select: async (event) => {
      if (event.contextId !== context.id) return null;
      if (event.kind === 'invalidation') {
        if (event.invalidation.reason === 'CONTEXT_DELETED') throw clientError('NOT_FOUND', 'The context was deleted.');
        return null;
      }
      if (!canAccess(await stillSignedIn(ctx), event.ownerId)) return null;
      return event.memoryEvent;
    },
  });
}

/**
 * Resolves one delivery of a subscription field. Each event is resolved with fresh loaders, as
 * a subscription lives far longer than the request its context was made for.
 */
export function deliver<T>(ctx: GraphQLContext, item: Delivery<T> | StreamEnd): T {
  if (item instanceof StreamEnd) throw item.error;
  ctx.delivery.eventId = item.eventId;
  ctx.loaders = createLoaders(ctx.deps, ctx.viewer);
  return item.value;
}

interface StreamSpec<T> {
  select: SubscriptionStreamOptions<T>['select'];
  gapNotice?(after: string): Delivery<T>;
}

function openStream<T>(ctx: GraphQLContext, field: string, spec: StreamSpec<T>): Stream<T> {
  const { config } = ctx.deps;
  const { bus, metrics, streams } = ctx.deps.events;
  const after = resumeAfter(ctx);
  metrics.subscriptions.inc({ field });
  const stream = createSubscriptionStream<T>({
    bus,
    after,
    replayLimit: config.EVENT_REPLAY_LIMIT,
    queueLimit: config.SUBSCRIPTION_QUEUE_LIMIT,
    select: spec.select,
    ...(spec.gapNotice && after ? { gapNotice: () => spec.gapNotice!(after) } : {}),
    onClose(reason) {
      streams.delete(stream);
      metrics.subscriptions.dec({ field });
      if (reason !== 'client') metrics.ended.inc({ reason });
    },
  });
  streams.add(stream);
  // A client gone before its response began never reads the stream, nor returns from it.
  const { signal } = ctx.request;
  if (signal.aborted) void stream.return!();
  else signal.addEventListener('abort', () => void stream.return!(), { once: true });
  return stream;
}

function resumeAfter(ctx: GraphQLContext): string | null {
  const header = ctx.request.headers.get(LAST_EVENT_ID_HEADER)?.trim();
  if (!header) return null;
  if (!isEventId(header)) {
    throw clientError('BAD_USER_INPUT', 'Last-Event-ID must be the id of an event this server sent, such as 1795300000000-0.');
  }
  return header;
}

/**
 * The viewer again, from the token of the subscription: a session that has been revoked or has
 * expired since ends the stream, as it would refuse a new request.
 */
async function stillSignedIn(ctx: GraphQLContext) {
  try {
    const viewer = await authenticate(ctx.deps, ctx.request.headers.get('authorization'));
    if (!viewer) throw clientError('UNAUTHENTICATED', 'Authentication required.');
    ctx.viewer = viewer;
    return viewer;
  } catch (error) {
    if (error instanceof GraphQLError) throw error;
    ctx.deps.logger.error({ err: error }, 'could not check the session of a subscription');
    throw new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  }
}
