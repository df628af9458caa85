import type { MemoryEventRow } from '../src/db/rows.js';
import { LAST_EVENT_ID_HEADER } from '../src/events/event-ids.js';
import { subscriptionTransport } from '../src/http/subscription-transport.js';
import type { CacheInvalidationModel } from '../src/events/recall-event.js';
import { StreamEnd, type Delivery } from '../src/events/subscription-stream.js';
import type { GraphQLContext } from '../src/graphql-context.js';
import { createLoaders } from '../src/loaders/create-loaders.js';
import type {
  Resolvers,
  SubscriptionCacheInvalidatedArgs,
  SubscriptionMemoryEventsArgs,
  SubscriptionResolverObject,
} from '../src/__generated__/resolvers-types.js';
import { subscribeToInvalidations, subscribeToMemoryEvents, type StreamRequest } from '../src/services/subscriptions.js';

const streamRequest = (ctx: GraphQLContext): StreamRequest => ({
  lastEventId: ctx.request.headers.get(LAST_EVENT_ID_HEADER),
  signal: ctx.request.signal,
  authorization: ctx.authorization,
  clientIp: ctx.clientIp,
  transport: subscriptionTransport(ctx.request),
});

/**
 * Resolves one delivery of a subscription field. A subscription lives far longer than the
 * request its context was made for, so each event is resolved with fresh loaders, at the log
 * position of the write it tells of; its id goes out as the SSE event id.
 */
function deliver<T>(ctx: GraphQLContext, item: Delivery<T> | StreamEnd): T {
  if (item instanceof StreamEnd) throw item.error;
  ctx.delivery.eventId = item.eventId;
  const here = ctx.deps.cache.log.position();
  ctx.read = item.position === null ? here : { ...here, pos: item.position, exact: true };
  ctx.loaders = createLoaders(ctx.deps, ctx.viewer, () => ctx.read);
  return item.value;
}

const cacheInvalidated: SubscriptionResolverObject<CacheInvalidationModel, unknown, GraphQLContext, SubscriptionCacheInvalidatedArgs> = {
  subscribe: (_parent, { filter }, ctx) => subscribeToInvalidations(ctx, filter, streamRequest(ctx)),
  resolve: (delivery: Delivery<CacheInvalidationModel> | StreamEnd, _args, ctx) => deliver(ctx, delivery),
};

const memoryEvents: SubscriptionResolverObject<MemoryEventRow, unknown, GraphQLContext, SubscriptionMemoryEventsArgs> = {
  subscribe: (_parent, { contextId }, ctx) => subscribeToMemoryEvents(ctx, contextId, streamRequest(ctx)),
  resolve: (delivery: Delivery<MemoryEventRow> | StreamEnd, _args, ctx) => deliver(ctx, delivery),
};

export const subscriptionResolvers: Resolvers = { Subscription: { cacheInvalidated, memoryEvents } };
