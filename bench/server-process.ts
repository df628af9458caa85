import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * Starts one benchmark server in a process of its own (`node --import tsx <script> <args>`, with
 * BENCH_SERVER_NODE_OPTIONS, e.g. `--cpu-prof`), in `cwd` when given, and resolves with the JSON
 * line it prints once it listens.
 */
export async function startServerProcess<Started>(name: string, script: string, args: string[], cwd?: string): Promise<{ child: ChildProcess; started: Started }> {
  const nodeOptions = process.env['BENCH_SERVER_NODE_OPTIONS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeOptions, script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    // As deployed (the Dockerfile sets it): graphql-js checks its types' realms when it is not.
    env: { ...process.env, NODE_ENV: process.env['NODE_ENV'] ?? 'production' },
    ...(cwd ? { cwd } : {}),
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the ${name} server exited with ${code}`)));
  });
  return { child, started: JSON.parse(line) as Started };
}
