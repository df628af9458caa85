import { hashToken, isSessionTokenShaped } from '../auth/tokens.js';
import { sessionExpiryFrom, TOUCH_INTERVAL_MS } from '../auth/sessions.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import { touchSession } from '../db/repositories/sessions.js';
import type { CachedSources } from '../loaders/cached-sources.js';
import { sessionViewer } from '../request-scope.js';
import type { AuthStrategy } from './auth-strategy.js';
import { invalidCredential } from './refusal.js';

/**
 * Session tokens from signUp and login (`rcs_…`): looked up by their hash through the session
 * cache, refused once revoked or expired, and slid forward (written back at most once a minute).
 */
export function sessionTokenStrategy(options: {
  sessions: CachedSources['sessions'];
  db: Database;
  clock: Clock;
  sessionTtlSeconds: number;
}): AuthStrategy {
  return {
    name: 'session',
    async authenticate(token, read) {
      if (!isSessionTokenShaped(token)) return null;
      const tokenHash = hashToken(token);
      const [found] = await options.sessions.load([tokenHash], read);
      const now = options.clock.now();
      if (!found || found.session.revokedAt !== null || found.session.expiresAt <= now) throw invalidCredential();

      const { session, user } = found;
      if (now.getTime() - session.lastSeenAt.getTime() < TOUCH_INTERVAL_MS) return sessionViewer(user, session);
      const expiresAt = sessionExpiryFrom(now, options.sessionTtlSeconds);
      // PostgreSQL has the last word: a session it holds as ended (revoked, or expired by the
      // clock of the instance that wrote it) is not slid forward from a cached copy.
      if (!(await touchSession(options.db, session.id, now, expiresAt))) throw invalidCredential();
      const touched = { user, session: { ...session, lastSeenAt: now, expiresAt } };
      await options.sessions.remember(tokenHash, touched, read);
      return sessionViewer(user, touched.session);
    },
  };
}
