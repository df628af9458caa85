import { endSession } from '../auth/sessions.js';
import type { RequestScope } from '../request-scope.js';
import { requireViewer } from './access.js';
import { afterWrite } from './after-write.js';

/** Ends the session of the request's token, everywhere, before replying. */
export async function logout(scope: RequestScope) {
  const { session } = requireViewer(scope);
  const ended = await endSession(scope.deps, session);
  if (ended) await afterWrite(scope, ended.recorded);
  return { sessionId: session.id, errors: [] };
}
