import { TOUCH_INTERVAL_MS } from '../auth/sessions.js';
import { apiKeyPrefixOf, hashToken } from '../auth/tokens.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import { touchApiKey } from '../db/repositories/api-keys.js';
import type { CachedSources } from '../loaders/cached-sources.js';
import { apiKeyViewer } from '../request-scope.js';
import type { AuthStrategy } from './auth-strategy.js';
import { invalidCredential } from './refusal.js';

/**
 * API keys from createApiKey (`rk_<prefix>_<secret>`): looked up by the hash of the whole token
 * through the key cache, refused once revoked or expired (or their user gone, which takes the
 * key with it), and their last use written back at most once a minute.
 */
export function apiKeyStrategy(options: { apiKeys: CachedSources['apiKeys']; db: Database; clock: Clock }): AuthStrategy {
  return {
    name: 'apikey',
    async authenticate(token, read) {
      if (apiKeyPrefixOf(token) === null) return null;
      const secretHash = hashToken(token);
      const [found] = await options.apiKeys.load([secretHash], read);
      const now = options.clock.now();
      if (!found || found.apiKey.revokedAt !== null || (found.apiKey.expiresAt !== null && found.apiKey.expiresAt <= now)) {
        throw invalidCredential();
      }

      const { apiKey, user } = found;
      if (apiKey.lastUsedAt !== null && now.getTime() - apiKey.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return apiKeyViewer(user, apiKey);
      await touchApiKey(options.db, apiKey.id, now);
      const touched = { user, apiKey: { ...apiKey, lastUsedAt: now } };
      await options.apiKeys.remember(secretHash, touched, read);
      return apiKeyViewer(user, touched.apiKey);
    },
  };
}
