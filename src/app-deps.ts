import type { Logger } from 'pino';
import type { Authenticate } from './admission/auth-strategy.js';
import type { Cache } from './cache/cache.js';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { Events } from './events/create-events.js';
import type { IdGenerator } from './ids.js';
import type { CachedSources } from './loaders/cached-sources.js';
import type { FieldLimits } from './admission/field-limits.js';
import type { RateLimiter } from './rate-limit/rate-limiter.js';
import type { SubscriptionSlots } from './rate-limit/subscription-slots.js';
import type { AccessRecorder } from './relevance/access-recorder.js';

/** Long-lived parts shared by every request. */
export interface AppDeps {
  config: Config;
  db: Database;
  clock: Clock;
  logger: Logger;
  newId: IdGenerator;
  /** Entities, whole responses and the invalidation log (see src/cache). */
  cache: Cache;
  /** Batched cache-aside reads of each entity, under the per-request loaders. */
  sources: CachedSources;
  accessRecorder: AccessRecorder;
  /** Change events: published by writes, followed by subscriptions on every instance. */
  events: Events;
  /** Cost points per caller and window (every request spends, cache hits too), and the field limits' counts. */
  limiter: RateLimiter;
  /** The @rateLimit of each limited field, as configured. */
  fieldLimits: FieldLimits;
  /** Concurrent subscriptions per caller, counted across instances and transports. */
  subscriptionSlots: SubscriptionSlots;
  /** Who a bearer token belongs to, through the authentication strategies. */
  authenticate: Authenticate;
}
