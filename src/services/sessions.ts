import { endSession } from '../auth/sessions.js';
import type { RequestScope } from '../request-scope.js';
import { requireViewer } from './access.js';
import { afterWrite } from './after-write.js';

/** Ends the session of the request's token, everywhere, before replying; an API key has no session to end. */
export async function logout(scope: RequestScope) {
  const { session } = requireViewer(scope);
  if (!session) {
    return {
      sessionId: null,
      errors: [{ code: 'FORBIDDEN' as const, message: 'logout ends a session, and this request came with an API key: revoke the key with revokeApiKey.' }],
    };
  }
  const ended = await endSession(scope.deps, session);
  if (ended) await afterWrite(scope, ended.recorded);
  return { sessionId: session.id, errors: [] };
}
