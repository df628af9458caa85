import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('loadConfig', () => {
  it('has a working default for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 4000, DATA_DIR: './data', DATABASE_SCHEMA: 'public', GRAPHIQL: true });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('parses numbers and flags, and treats blank values as unset', () => {
    const config = loadConfig({ PORT: '8080', GRAPHIQL: 'off', TRUST_PROXY: 'yes', DATABASE_URL: '  ', MAX_PAGE_SIZE: '50' });
    expect(config).toMatchObject({ PORT: 8080, GRAPHIQL: false, TRUST_PROXY: true, MAX_PAGE_SIZE: 50 });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('gathers every problem, naming each variable, without echoing credentials', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://admin:hunter2@db',
        DATABASE_SCHEMA: 'Robert"); DROP',
        LOG_LEVEL: 'loud',
        DEFAULT_PAGE_SIZE: '500',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems, message } = error as ConfigError;
    expect(problems.map((problem) => problem.split(':')[0])).toEqual(
      expect.arrayContaining(['PORT', 'DATABASE_URL', 'DATABASE_SCHEMA', 'LOG_LEVEL']),
    );
    expect(message).toContain('(got "eighty")');
    expect(message).not.toContain('hunter2');
  });

  it('checks settings against each other', () => {
    expect(() => loadConfig({ DEFAULT_PAGE_SIZE: '500' })).toThrow(/DEFAULT_PAGE_SIZE: must not exceed MAX_PAGE_SIZE/);
  });

  it('shows less in production: no GraphiQL, introspection for admins, no suggestions; each settable', () => {
    const development = loadConfig({});
    expect(development).toMatchObject({ GRAPHIQL: true, INTROSPECTION: 'on', FIELD_SUGGESTIONS: true });
    const secret = { SESSION_SECRET: 'a'.repeat(64) };
    const production = loadConfig({ NODE_ENV: 'production', ...secret });
    expect(production).toMatchObject({ GRAPHIQL: false, INTROSPECTION: 'admins', FIELD_SUGGESTIONS: false });
    expect(loadConfig({ NODE_ENV: 'production', ...secret, GRAPHIQL: 'true', INTROSPECTION: 'off', FIELD_SUGGESTIONS: 'yes' })).toMatchObject({
      GRAPHIQL: true,
      INTROSPECTION: 'off',
      FIELD_SUGGESTIONS: true,
    });
    expect(loadConfig({ INTROSPECTION: 'admins', FIELD_SUGGESTIONS: 'off' })).toMatchObject({ INTROSPECTION: 'admins', FIELD_SUGGESTIONS: false });
    expect(() => loadConfig({ INTROSPECTION: 'admin' })).toThrow(/INTROSPECTION: .*\(got "admin"\)/);
  });

  it('accepts PostgreSQL URLs and memory://', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:p@h:5432/d' }).DATABASE_URL).toBe('postgresql://u:p@h:5432/d');
    expect(loadConfig({ DATABASE_URL: 'memory://' }).DATABASE_URL).toBe('memory://');
  });
});
