import { describe, expect, it } from 'vitest';
import { exportedFields } from '../../src/cache/redis-info-sampler.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { statementKind } from '../../src/db/instrumented-database.js';
import { metricsPlacement } from '../../src/http/metrics-endpoint.js';

const production = { NODE_ENV: 'production', SESSION_SECRET: 'a'.repeat(64) };

describe('where /metrics is served', () => {
  it('is open on the main port outside production, and off there in production without a token or a port', () => {
    expect(metricsPlacement(loadConfig({}))).toBe('main-port');
    expect(metricsPlacement(loadConfig({ NODE_ENV: 'test' }))).toBe('main-port');
    expect(metricsPlacement(loadConfig(production))).toBe('off');
    expect(metricsPlacement(loadConfig({ ...production, METRICS_TOKEN: 'x'.repeat(16) }))).toBe('main-port');
    expect(metricsPlacement(loadConfig({ ...production, METRICS_PORT: '9464' }))).toBe('own-port');
    expect(metricsPlacement(loadConfig({ METRICS_PORT: '9464' }))).toBe('own-port');
  });

  it('binds its own port to this host by default, and refuses a short token without echoing it', () => {
    expect(loadConfig({ METRICS_PORT: '9464' }).METRICS_HOST).toBe('127.0.0.1');
    let error: unknown;
    try {
      loadConfig({ METRICS_TOKEN: 'short-secret' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(/^METRICS_TOKEN: /)]);
    expect((error as ConfigError).message).not.toContain('short-secret');
  });
});

describe('statementKind', () => {
  it('reads the first keyword, whatever its case and the whitespace before it', () => {
    expect(statementKind('SELECT 1')).toBe('select');
    expect(statementKind('\n  insert into t values (1)')).toBe('insert');
    expect(statementKind('Update t SET a = 1')).toBe('update');
    expect(statementKind('DELETE FROM t')).toBe('delete');
    expect(statementKind('WITH x AS (SELECT 1) SELECT * FROM x')).toBe('other');
    expect(statementKind('BEGIN')).toBe('other');
    expect(statementKind('')).toBe('other');
  });
});

describe('exportedFields', () => {
  it('keeps the exported fields of an INFO reply, as numbers', () => {
    const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n# Stats\r\nexpired_keys:7\r\nevicted_keys:0\r\nkeyspace_hits:12\r\nkeyspace_misses:3\r\n';
    expect(Object.fromEntries(exportedFields(info))).toEqual({ used_memory: 1048576, expired_keys: 7, evicted_keys: 0, keyspace_hits: 12, keyspace_misses: 3 });
    expect(exportedFields('used_memory:lots\r\n').size).toBe(0);
  });
});
