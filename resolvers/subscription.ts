import type { MemoryEventRow } from '../src/db/rows.js';
import type { CacheInvalidationModel } from '../src/events/recall-event.js';
import type { Delivery, StreamEnd } from '../src/events/subscription-stream.js';
import type { GraphQLContext } from '../src/graphql-context.js';
import type {
  Resolvers,
  SubscriptionCacheInvalidatedArgs,
  SubscriptionMemoryEventsArgs,
  SubscriptionResolverObject,
} from '../src/__generated__/resolvers-types.js';
import { deliver, subscribeToInvalidations, subscribeToMemoryEvents } from '../src/services/subscriptions.js';

const cacheInvalidated: SubscriptionResolverObject<CacheInvalidationModel, unknown, GraphQLContext, SubscriptionCacheInvalidatedArgs> = {
  subscribe: (_parent, { filter }, ctx) => subscribeToInvalidations(ctx, filter),
  resolve: (delivery: Delivery<CacheInvalidationModel> | StreamEnd, _args, ctx) => deliver(ctx, delivery),
};

const memoryEvents: SubscriptionResolverObject<MemoryEventRow, unknown, GraphQLContext, SubscriptionMemoryEventsArgs> = {
  subscribe: (_parent, { contextId }, ctx) => subscribeToMemoryEvents(ctx, contextId),
  resolve: (delivery: Delivery<MemoryEventRow> | StreamEnd, _args, ctx) => deliver(ctx, delivery),
};

export const subscriptionResolvers: Resolvers = { Subscription: { cacheInvalidated, memoryEvents } };
