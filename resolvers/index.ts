import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { apiKeyResolvers } from './api-key.js';
import { cacheAdminResolvers } from './cache-admin.js';
import { contextResolvers } from './context.js';
import { memoryResolvers } from './memory.js';
import { nodeResolvers } from './node.js';
import { rateLimitResolvers } from './rate-limit.js';
import { relevanceResolvers } from './relevance.js';
import { scalarResolvers } from './scalars.js';
import { sessionResolvers } from './session.js';
import { subscriptionResolvers } from './subscription.js';
import { userResolvers } from './user.js';

/** Feature maps share type names (Query, Memory…); their fields are merged, never overwritten. */
export const resolvers: Resolvers[] = [
  scalarResolvers,
  userResolvers,
  sessionResolvers,
  apiKeyResolvers,
  contextResolvers,
  memoryResolvers,
  relevanceResolvers,
  nodeResolvers,
  subscriptionResolvers,
  rateLimitResolvers,
  cacheAdminResolvers,
];
