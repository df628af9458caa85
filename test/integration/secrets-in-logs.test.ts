import { Redis } from 'ioredis';
import { expect, inject, it } from 'vitest';
import { listen, overWebSocket, subscribeOverSse, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

it.runIf(inject('redisUrl'))('never writes a token, key secret or password to the logs, Redis keys, metrics or error bodies', async () => {
  const logLines: string[] = [];
  const t = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, logLines, env: { LOG_LEVEL: 'trace' } });
  const secrets: string[] = [TEST_PASSWORD];
  const bodies: string[] = [];
  try {
    const url = await listen(t);
    const send = async (body: unknown, token?: string, headers: Record<string, string> = {}) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      bodies.push(text);
      return text;
    };
    const user = await t.newUser();
    secrets.push(user.token);
    const second = await t.login(user);
    secrets.push(second);
    const key = (await t.gql('mutation { createApiKey(input: { name: "logged", scopes: [MEMORY_READ] }) { secret } }', {}, { token: user.token })).data.createApiKey.secret;
    secrets.push(key);
    await send({ query: '{ viewer { id } contexts { edges { node { id } } } }' }, key);
    await send({ query: '{ viewer { id } contexts { edges { node { id } } } }' }, key);
    await send({ query: 'mutation { addMemories(input: { contextId: "ctx_00000000000000000000000000", items: [] }) { memories { id } } }' }, key);
    const forgedKey = `${key.slice(0, -4)}AAAA`;
    secrets.push(forgedKey);
    await send({ query: '{ viewer { id } }' }, forgedKey);
    await send({ query: 'mutation ($p: String!, $e: String!) { login(input: { email: $e, password: $p }) { token } }', variables: { e: user.email, p: 'wrong password 1' } });
    secrets.push('wrong password 1');
    await send({ query: '{ viewer { id } }' }, user.token);
    await send({ query: '{ viewer { id } }' }, user.token);
    await send({ query: '{ viewer { id } nope }' }, user.token);
    const forged = `rcs_${'A'.repeat(43)}`;
    secrets.push(forged);
    await send({ query: '{ viewer { id } }' }, forged);
    await send({ query: '{ viewer { id } }' }, undefined, { authorization: `Token ${second}x` });
    await send({ query: 'mutation ($p: String!) { deleteAccount(input: { password: $p }) { errors { code } } }', variables: { p: 'wrong password 2' } }, second);
    secrets.push('wrong password 2');

    const subscription = await subscribeOverSse(t, url, second, 'subscription { cacheInvalidated { reason } }');
    const ws = webSocketClient(url, second);
    await overWebSocket(ws, '{ viewer { id } }');
    await send({ query: 'mutation { logout { sessionId } }' }, second);
    await subscription.next();
    await subscription.close();
    await ws.dispose();
    await send({ query: '{ viewer { id } }' }, second);

    expect(logLines.length).toBeGreaterThan(10);
    const redis = new Redis(inject('redisUrl')!);
    const prefix = t.app.deps.config.REDIS_KEY_PREFIX;
    const keys = await redis.keys(`${prefix}*`);
    const values = await Promise.all(keys.map(async (key) => ((await redis.type(key)) === 'string' ? redis.get(key) : '')));
    redis.disconnect();
    const metrics = await t.app.registry.metrics();
    for (const secret of secrets) {
      // The token's random part: the prefixes (rcs_, rk_<key prefix>_) are no secret. The
      // random part is base64url, so it may hold '_' itself: strip the prefix, never split.
      const needle = secret.replace(/^(rcs_|rk_[^_]+_)/, '');
      expect(needle.length).toBeGreaterThanOrEqual(8);
      expect(logLines.filter((line) => line.includes(needle)), `a log line holds ${secret}`).toEqual([]);
      expect(keys.filter((key) => key.includes(needle))).toEqual([]);
      expect(values.filter((value) => value?.includes(needle))).toEqual([]);
      expect(metrics.includes(needle)).toBe(false);
      expect(bodies.filter((body) => body.includes(needle) && !body.includes('"token"') && !body.includes('"secret"'))).toEqual([]);
    }
  } finally {
    await t.close();
  }
});
