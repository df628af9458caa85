import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const SIGN_UP = `mutation ($input: SignUpInput!) {
  signUp(input: $input) { token user { id email name role tier } session { id expiresAt } errors { code message field } }
}`;
const LOGIN = `mutation ($input: LoginInput!) {
  login(input: $input) { token user { id email } session { id } errors { code message field } }
}`;
const VIEWER = '{ viewer { id email } }';

describe.each(backends())('auth on %s', (backend) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(backend);
  });
  afterAll(() => t.close());

  it('signs up, then the token identifies the user', async () => {
    const email = `Ann.${Date.now()}@Example.com`;
    const signUp = await t.gql(SIGN_UP, { input: { email, password: TEST_PASSWORD, name: 'Ann' } });
    expect(signUp.errors).toBeUndefined();
    const payload = signUp.data.signUp;
    expect(payload.errors).toEqual([]);
    expect(payload.token).toMatch(/^rcs_[A-Za-z0-9_-]{43}$/);
    expect(payload.user).toMatchObject({ email, name: 'Ann', role: 'USER', tier: 'FREE' });

    const viewer = await t.gql(VIEWER, {}, { token: payload.token });
    expect(viewer.data.viewer).toEqual({ id: payload.user.id, email });
  });

  it('stores only the hash of the token and a scrypt hash of the password', async () => {
    const user = await t.newUser();
    const [session] = await t.database.db.query<{ token_hash: string }>(
      'SELECT token_hash FROM sessions WHERE user_id = $1',
      [user.id],
    );
    expect(session!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(session!.token_hash).not.toContain(user.token);
    const [row] = await t.database.db.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [
      user.id,
    ]);
    expect(row!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(row!.password_hash).not.toContain(TEST_PASSWORD);
  });

  it('refuses a second sign-up with the same email in any letter case, and writes nothing', async () => {
    const user = await t.newUser();
    const before = await t.database.db.query('SELECT id FROM users');
    const again = await t.gql(SIGN_UP, { input: { email: user.email.toUpperCase(), password: TEST_PASSWORD } });
    expect(again.data.signUp).toMatchObject({ token: null, user: null, errors: [{ code: 'EMAIL_TAKEN', field: ['email'] }] });
    expect(await t.database.db.query('SELECT id FROM users')).toHaveLength(before.length);
  });

  it('validates sign-up input with field paths', async () => {
    const result = await t.gql(SIGN_UP, { input: { email: 'not-an-email', password: 'short' } });
    const errors = result.data.signUp.errors;
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'BAD_USER_INPUT', field: ['email'] }),
        expect.objectContaining({ code: 'BAD_USER_INPUT', field: ['password'] }),
      ]),
    );
  });

  it('logs in with the right password only, with one error for unknown email and wrong password', async () => {
    const user = await t.newUser();
    const ok = await t.gql(LOGIN, { input: { email: user.email, password: TEST_PASSWORD } });
    expect(ok.data.login.errors).toEqual([]);
    expect(ok.data.login.token).not.toEqual(user.token);
    expect((await t.gql(VIEWER, {}, { token: ok.data.login.token })).data.viewer.id).toBe(user.id);

    const wrong = await t.gql(LOGIN, { input: { email: user.email, password: 'wrong password' } });
    const unknown = await t.gql(LOGIN, { input: { email: 'nobody@example.com', password: 'wrong password' } });
    expect(wrong.data.login).toEqual({ token: null, user: null, session: null, errors: [expect.objectContaining({ code: 'INVALID_CREDENTIALS' })] });
    expect(unknown.data.login).toEqual(wrong.data.login);
  });

  it('treats a request without a token as anonymous', async () => {
    const result = await t.gql(VIEWER);
    expect(result.status).toBe(200);
    expect(result.data.viewer).toBeNull();
  });

  it.each([
    ['a tampered token', (token: string) => `Bearer ${token.slice(0, -2)}xx`],
    ['a token of the wrong shape', () => 'Bearer abc'],
    ['another scheme', (token: string) => `Basic ${token}`],
  ])('refuses %s with 401 UNAUTHENTICATED before running anything', async (_name, header) => {
    const user = await t.newUser();
    const statements = await t.countStatements(async () => {
      const result = await t.gql(VIEWER, {}, { headers: { authorization: header(user.token) } });
      expect(result.status).toBe(401);
      expect(result.headers.get('www-authenticate')).toBe('Bearer');
      expect(result.data).toBeFalsy();
      expect(result.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) })]);
    });
    expect(statements.length).toBeLessThanOrEqual(1);
  });

  it('logs out: the token stops working and the session is revoked', async () => {
    const user = await t.newUser();
    const logout = await t.gql('mutation { logout { sessionId errors { code } } }', {}, { token: user.token });
    expect(logout.data.logout.errors).toEqual([]);
    const [session] = await t.database.db.query<{ id: string; revoked_at: Date | null }>(
      'SELECT id, revoked_at FROM sessions WHERE user_id = $1',
      [user.id],
    );
    expect(logout.data.logout.sessionId).toBe(session!.id);
    expect(session!.revoked_at).toBeInstanceOf(Date);
    expect((await t.gql(VIEWER, {}, { token: user.token })).status).toBe(401);
  });

  it('requires authentication to log out', async () => {
    const result = await t.gql('mutation { logout { sessionId } }');
    expect(result.status).toBe(401);
    expect(result.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
  });

  it('expires a session 30 to 31 idle minutes after its last use, and slides the expiry while it is used', async () => {
    const user = await t.newUser();
    t.clock.advance(20 * 60_000);
    expect((await t.gql(VIEWER, {}, { token: user.token })).data.viewer.id).toBe(user.id);
    // 49 minutes after sign-up, but only 29 after the last use.
    t.clock.advance(29 * 60_000);
    expect((await t.gql(VIEWER, {}, { token: user.token })).data.viewer.id).toBe(user.id);
    t.clock.advance(30 * 60_000);
    expect((await t.gql(VIEWER, {}, { token: user.token })).data.viewer.id).toBe(user.id);
    t.clock.advance(31 * 60_000 + 1);
    const expired = await t.gql(VIEWER, {}, { token: user.token });
    expect(expired.status).toBe(401);
    expect(expired.errors?.[0]?.message).toMatch(/invalid, expired or revoked/);
  });

  it('writes last_seen_at at most once a minute', async () => {
    const user = await t.newUser();
    const touches = async () =>
      (await t.countStatements(() => t.gql(VIEWER, {}, { token: user.token }))).filter((sql) =>
        sql.startsWith('UPDATE sessions'),
      ).length;
    expect(await touches()).toBe(0);
    t.clock.advance(61_000);
    expect(await touches()).toBe(1);
    expect(await touches()).toBe(0);
  });

  it('authenticates 100 requests after login with no SQL for auth, from the cache', async () => {
    const user = await t.newUser();
    const token = await t.login(user);
    await t.gql(VIEWER, {}, { token });
    const statements = await t.countStatements(async () => {
      for (let i = 0; i < 100; i++) expect((await t.gql(VIEWER, {}, { token })).data.viewer.id).toBe(user.id);
    });
    expect(statements.filter((sql) => /\b(sessions|users)\b/.test(sql))).toEqual([]);
  });
});
