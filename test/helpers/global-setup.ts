import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL server the integration tests also run against, or null when none answers. */
    postgresUrl: string | null;
    /** The Redis server the cache tests also run against, or null when none answers. */
    redisUrl: string | null;
    /** Whether `redis-server` can be started here, for the fault tests that kill and restart their own. */
    redisServer: boolean;
    /** The Chromium the browser tests drive, or null when there is none. */
    chromium: string | null;
  }
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Every behaviour runs on embedded PGlite; it runs on a real PostgreSQL too when one answers.
 * With RECALL_REQUIRE_SERVICES=1 (as in .ci/run) a missing server fails the run instead.
 */
export default async function setup(project: TestProject): Promise<void> {
  project.provide('postgresUrl', await probePostgres());
  project.provide('redisUrl', await probeRedis());
  project.provide('redisServer', probeRedisServer());
  project.provide('chromium', probeChromium());
}

function leftOut(what: string): null {
  if (process.env['RECALL_REQUIRE_SERVICES'] === '1') throw new Error(`${what}; .ci/run requires it.`);
  console.warn(`\n!! ${what}: the runs of the tests that need it are LEFT OUT.\n`);
  return null;
}

async function probeRedis(): Promise<string | null> {
  const url = process.env['TEST_REDIS_URL'] || DEFAULT_REDIS_URL;
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined); // connect() rejects with the same error, reported below
  try {
    await client.connect();
    await client.ping();
    return url;
  } catch (error) {
    return leftOut(`Redis at ${url.replace(/\/\/[^@]*@/, '//')} did not answer (${(error as Error).message})`);
  } finally {
    client.disconnect();
  }
}

function probeRedisServer(): boolean {
  const run = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (run.status === 0) return true;
  leftOut(`redis-server could not be started (${run.error?.message ?? run.stderr.trim()})`);
  return false;
}

/** Debian's chromium (`apt install chromium`, which .ci/run does), or the one CHROMIUM_PATH names. */
function probeChromium(): string | null {
  const path = process.env['CHROMIUM_PATH'] || '/usr/bin/chromium';
  const run = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (run.status === 0) return path;
  return leftOut(`Chromium at ${path} could not be started (${run.error?.message ?? run.stderr.trim()})`);
}

async function probePostgres(): Promise<string | null> {
  const url = process.env['TEST_DATABASE_URL'] || DEFAULT_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return url;
  } catch (error) {
    return leftOut(`PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//')} did not answer (${(error as Error).message})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
