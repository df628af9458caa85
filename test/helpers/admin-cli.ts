import { spawn } from 'node:child_process';
import path from 'node:path';
import type { TestApp } from './test-app.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');

/** The environment a process of the same deployment as `t` reads. */
export function deploymentEnv(t: TestApp): Record<string, string> {
  const { config } = t.app.deps;
  return {
    PATH: process.env['PATH']!,
    HOME: process.env['HOME']!,
    DATABASE_URL: config.DATABASE_URL!,
    DATABASE_SCHEMA: config.DATABASE_SCHEMA,
    REDIS_URL: config.REDIS_URL!,
    REDIS_KEY_PREFIX: config.REDIS_KEY_PREFIX,
    SESSION_SECRET: config.SESSION_SECRET!,
    LOG_LEVEL: 'warn',
  };
}

/** Runs `npm run admin -- <args>` with this environment (and standard input). */
export function runAdmin(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', '--silent', 'admin', '--', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
