import pg from 'pg';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL server the integration tests also run against, or null when none answers. */
    postgresUrl: string | null;
  }
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

/**
 * Every behaviour runs on embedded PGlite; it runs on a real PostgreSQL too when one answers.
 * With RECALL_REQUIRE_SERVICES=1 (as in .ci/run) a missing server fails the run instead.
 */
export default async function setup(project: TestProject): Promise<void> {
  const url = process.env['TEST_DATABASE_URL'] || DEFAULT_URL;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    project.provide('postgresUrl', url);
  } catch (error) {
    const why = `PostgreSQL at ${url.replace(/\/\/[^@]*@/, '//')} did not answer (${(error as Error).message})`;
    if (process.env['RECALL_REQUIRE_SERVICES'] === '1') throw new Error(`${why}; .ci/run requires it.`);
    console.warn(`\n!! ${why}: the PostgreSQL runs of the integration tests are LEFT OUT; PGlite runs only.\n`);
    project.provide('postgresUrl', null);
  } finally {
    await client.end().catch(() => undefined);
  }
}
