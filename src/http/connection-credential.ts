/**
 * The credential of a graphql-ws connection, read from its `connectionParams` (what browsers,
 * which cannot set headers on a WebSocket, send) or else from the upgrade's Authorization header.
 *
 * Read: `Authorization` / `authorization` and `headers.Authorization` / `headers.authorization`
 * (a header value, `Bearer <token>`), `authToken` and `token` (a bare token or `Bearer <token>`).
 * A null or empty value is no credential. Anything else that looks like a credential (a key
 * such as `accessToken`, `jwt` or `apiKey`, a read key whose value is not a string, two different
 * credentials at once) is a problem: the connection is refused, never taken as anonymous, so a
 * client that meant to sign in learns at once that the server did not read its token.
 */
export type ConnectionCredential = { authorization: string | null; problem?: undefined } | { problem: string; authorization?: undefined };

/** Keys whose value is a header value (`Bearer <token>`). */
const HEADER_KEYS = new Set(['Authorization', 'authorization']);
/** Keys whose value is a token, bare or as a header value. */
const TOKEN_KEYS = new Set(['authToken', 'token']);
/** Names clients give credentials under: a key like these that is not read must not pass unnoticed. */
const CREDENTIAL_NAME = /auth|token|jwt|bearer|api[-_]?key|secret|session|passw|credential|cookie/i;

const ACCEPTED = 'send Authorization, headers.Authorization, authToken or token';

export function connectionCredential(params: Readonly<Record<string, unknown>> | undefined, upgradeHeader: string | undefined): ConnectionCredential {
  const found: Array<{ where: string; authorization: string }> = [];
  const problem = readCredentials(params ?? {}, '', found) ?? readHeaders(params?.['headers'], found);
  if (problem) return { problem };
  if (upgradeHeader) found.push({ where: 'the Authorization header', authorization: upgradeHeader });
  const distinct = new Set(found.map((credential) => credential.authorization));
  if (distinct.size > 1) {
    return { problem: `Two different credentials (${found.map((credential) => credential.where).join(', ')}): send one.` };
  }
  return { authorization: found[0]?.authorization ?? null };
}

function readHeaders(headers: unknown, found: Array<{ where: string; authorization: string }>): string | null {
  if (headers === undefined || headers === null) return null;
  if (typeof headers !== 'object' || Array.isArray(headers)) return 'connectionParams.headers must be an object of header names and values.';
  return readCredentials(headers as Record<string, unknown>, 'headers.', found, true);
}

function readCredentials(
  params: Readonly<Record<string, unknown>>,
  prefix: string,
  found: Array<{ where: string; authorization: string }>,
  headersOnly = false,
): string | null {
  for (const [key, value] of Object.entries(params)) {
    const where = `connectionParams.${prefix}${key}`;
    const read = HEADER_KEYS.has(key) || (!headersOnly && TOKEN_KEYS.has(key));
    if (!read) {
      if (key === 'headers' && !headersOnly) continue;
      if (CREDENTIAL_NAME.test(key)) return `${where} is not read: ${ACCEPTED}.`;
      continue;
    }
    if (value === undefined || value === null || value === '') continue;
    if (typeof value !== 'string') return `${where} must be a string.`;
    const authorization = HEADER_KEYS.has(key) || /^bearer\s/i.test(value) ? value : `Bearer ${value}`;
    found.push({ where, authorization });
  }
  return null;
}
