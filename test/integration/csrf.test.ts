import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const SIGN_UP = (email: string) => `mutation { signUp(input: { email: "${email}", password: "${TEST_PASSWORD}" }) { token errors { code } } }`;

/** The bodies a page on another origin can send without a preflight, plus application/graphql, each carrying `query`. */
const BROWSER_STYLE: Array<{ name: string; body(query: string): { body: BodyInit; headers: Record<string, string> } }> = [
  {
    name: 'form-encoded',
    body: (query) => ({ body: new URLSearchParams({ query }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
  },
  {
    // graphql-multipart-request-spec, as yoga reads it (fetch sets the boundary).
    name: 'multipart',
    body: (query) => {
      const form = new FormData();
      form.set('operations', JSON.stringify({ query }));
      form.set('map', '{}');
      return { body: form, headers: {} };
    },
  },
  { name: 'application/graphql', body: (query) => ({ body: query, headers: { 'content-type': 'application/graphql' } }) },
  { name: 'text/plain', body: (query) => ({ body: JSON.stringify({ query }), headers: { 'content-type': 'text/plain;charset=UTF-8' } }) },
  // A Blob without a type: the browser sends no Content-Type at all.
  { name: 'no content type', body: (query) => ({ body: new Blob([JSON.stringify({ query })]), headers: {} }) },
];

describe.each(backends())('CSRF prevention (%s)', (backend) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;

  beforeAll(async () => {
    t = await createTestApp(backend);
    url = await listen(t);
    user = await t.newUser();
  });
  afterAll(() => t.close());

  const usersWith = async (email: string) => (await t.database.db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE email = $1', [email]))[0]!.n;
  const newEmail = () => `csrf-${randomBytes(5).toString('hex')}@example.com`;

  /** yoga in process (`yoga.fetch`), and the real HTTP server (its cached-hit front, then yoga). */
  const paths = {
    yoga: (search: string, init: RequestInit) => t.app.yoga.fetch(`http://recall.test/graphql${search}`, init),
    http: (search: string, init: RequestInit) => fetch(`${url}${search}`, init),
  };

  describe.each(Object.keys(paths) as Array<keyof typeof paths>)('through %s', (path) => {
    const send = (init: RequestInit) => paths[path]('', { method: 'POST', ...init, headers: { accept: 'application/json', ...init.headers } });

    it.each(BROWSER_STYLE)('refuses a $name POST without a preflight header, and runs nothing', async ({ body }) => {
      const email = newEmail();
      const response = await send(body(SIGN_UP(email)));
      expect(response.status).toBe(400);
      const reply = (await response.json()) as { data?: unknown; errors: Array<{ message: string; extensions: { code: string } }> };
      expect(reply.data).toBeUndefined();
      expect(reply.errors).toHaveLength(1);
      expect(reply.errors[0]!.extensions.code).toBe('CSRF_REFUSED');
      expect(reply.errors[0]!.message).toContain('Send Content-Type: application/json, or one of these headers: Authorization, X-GraphQL-Yoga-CSRF');
      expect(await usersWith(email)).toBe(0);
    });

    it('runs the same mutation sent as JSON, or form-encoded with a header that forces a preflight', async () => {
      const asJson = newEmail();
      const json = await send({ body: JSON.stringify({ query: SIGN_UP(asJson) }), headers: { 'content-type': 'application/json' } });
      expect(json.status).toBe(200);
      expect(((await json.json()) as any).data.signUp.token).toEqual(expect.any(String));

      const withMarker = newEmail();
      const marked = await send({ ...BROWSER_STYLE[0]!.body(SIGN_UP(withMarker)), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-graphql-yoga-csrf': '1' } });
      expect(marked.status).toBe(200);
      expect(await usersWith(asJson)).toBe(1);
      expect(await usersWith(withMarker)).toBe(1);

      const withToken = await send({
        body: new URLSearchParams({ query: 'mutation { createContext(input: { name: "Form" }) { context { name } } }' }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${user.token}` },
      });
      expect(((await withToken.json()) as any).data.createContext.context.name).toBe('Form');
    });

    it('lets a GET through without any header: it reads, and never runs a mutation', async () => {
      const get = (query: string) => paths[path](`?query=${encodeURIComponent(query)}`, { headers: { accept: 'application/json' } });
      const read = await get('{ viewer { id } }');
      expect(read.status).toBe(200);
      expect(await read.json()).toMatchObject({ data: { viewer: null } });
      const email = newEmail();
      expect((await get(SIGN_UP(email))).status).toBe(405);
      expect(await usersWith(email)).toBe(0);
    });
  });
});
