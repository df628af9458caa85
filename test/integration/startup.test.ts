import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

async function waitFor<T>(probe: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

it('`npm start` with no configuration serves GraphQL from an embedded database, logging its progress, and stops on SIGTERM', async () => {
  const port = await freePort();
  const dataDir = await mkdtemp(path.join(tmpdir(), 'recall-start-'));
  // Only what any shell has, plus a free port and a scratch data folder: no DATABASE_URL.
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  try {
    const response = await waitFor(async () => {
      const answer = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation { signUp(input: { email: "first@example.com", password: "long enough" }) { token errors { code } } }',
        }),
      });
      return answer.json() as Promise<{ data: { signUp: { token: string; errors: unknown[] } } }>;
    }, 45_000);
    expect(response.data.signUp.errors).toEqual([]);
    expect(response.data.signUp.token).toMatch(/^rcs_/);
    expect(output).toContain('"driver":"pglite"');
    // A first start says what it is doing while it takes seconds, and how long it took.
    expect(output).toContain(`creating the embedded database in ${dataDir} (first start only)`);
    expect(output).toMatch(/"msg":"ready in \d+\.\d s: Recall is serving GraphQL/);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { database: { driver: 'pglite' } } });

    // The server itself gets the signal, as under a process manager (npm does not pass it on).
    const serverPid = Number(/"pid":(\d+)/.exec(output)?.[1]);
    expect(serverPid).toBeGreaterThan(0);
    process.kill(serverPid, 'SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
}, 90_000);

it('`npm start` with a bad setting stops at once and names the variable', async () => {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], PORT: 'eighty', DATABASE_URL: 'mysql://x' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(1);
  expect(output).toContain('PORT');
  expect(output).toContain('DATABASE_URL: must start with postgres://');
  expect(output).not.toContain('mysql://x');
}, 60_000);
