/**
 * Profiles one server of the cached-hit benchmark under load: `node --import tsx
 * bench/profile-hit.ts [variant] [checkout]` starts bench/cached-hit-server.ts (of `checkout`, by
 * default this one) with --cpu-prof (with BENCH_PROFILE_SERVER=miss-path, bench/miss-path-server.ts
 * running the app of `checkout`: the miss path), sends it the benchmark's query at 16 connections for
 * BENCH_SECONDS (default 10) after a 2 s warm-up, stops it, and prints where its time went
 * (self and inclusive time per function, the admission path's steps first). The profile is left
 * in BENCH_PROFILE_DIR (default a temporary folder) for a viewer.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { LIST_QUERY } from './cached-hit-query.js';

const variant = process.argv[2] ?? 'recall';
const checkout = process.argv[3];
const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
const dir = process.env['BENCH_PROFILE_DIR'] ?? mkdtempSync(`${os.tmpdir()}/recall-profile-`);

const missPath = process.env['BENCH_PROFILE_SERVER'] === 'miss-path';
const script = missPath
  ? new URL('./miss-path-server.ts', import.meta.url).pathname
  : checkout
    ? `${checkout}/bench/cached-hit-server.ts`
    : new URL('./cached-hit-server.ts', import.meta.url).pathname;
const args = missPath && checkout ? [variant, checkout] : [variant];
const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', script, ...args], {
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  env: { ...process.env, NODE_ENV: process.env['NODE_ENV'] ?? 'production' },
  ...(checkout ? { cwd: checkout } : {}),
});
const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
const { port, token, contextId } = JSON.parse(line) as { port: number; token: string; contextId: string };
const request = {
  url: `http://127.0.0.1:${port}/graphql`,
  connections: 16,
  method: 'POST' as const,
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
  body: JSON.stringify({ query: LIST_QUERY, variables: { id: contextId }, operationName: 'List' }),
};
await autocannon({ ...request, duration: 2 });
// The profile's clock is the monotonic clock in µs, as hrtime's: only samples taken under load count.
const loadStart = Number(process.hrtime.bigint() / 1000n);
const result = await autocannon({ ...request, duration: seconds });
const loadEnd = Number(process.hrtime.bigint() / 1000n);
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
// CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile: the main thread is 0 (tsx's loader runs in another).
const file = readdirSync(dir).filter((name) => /\.0\.\d+\.cpuprofile$/.test(name)).sort().at(-1)!;
const profile = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
const nameOf = (node: ProfileNode) =>
  `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;
let idle = 0;
let at = profile.startTime;
profile.samples.forEach((id, index) => {
  const dt = profile.timeDeltas[index] ?? 0;
  at += dt;
  if (at < loadStart || at > loadEnd) return;
  total += dt;
  const node = nodes.get(id)!;
  if (node.callFrame.functionName === '(idle)') idle += dt;
  self.set(nameOf(node), (self.get(nameOf(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let up: number | undefined = id; up !== undefined; up = parents.get(up)) {
    const name = nameOf(nodes.get(up)!);
    if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + dt);
    seen.add(name);
  }
});
const requests = result.requests.total;
const busy = total - idle;
const perRequest = (us: number) => `${(us / requests).toFixed(1).padStart(6)} µs/req`;
const show = (title: string, map: Map<string, number>, filter: (name: string) => boolean, count: number) => {
  process.stdout.write(`\n== ${title}\n`);
  for (const [name, us] of [...map].filter(([name]) => filter(name)).sort((a, b) => b[1] - a[1]).slice(0, count)) {
    process.stdout.write(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${perRequest(us)}  ${name}\n`);
  }
};
process.stdout.write(
  `${variant}${checkout ? ` (${checkout})` : ''}: ${requests} requests in ${seconds} s (${Math.round(result.requests.average)} req/s), ` +
    `under load, the main thread was busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s: ${(busy / requests).toFixed(1)} µs per request (profiling slows it); ${dir}/${file}\n`,
);
const admissionPath = /admission\/|rate-limit\/|cached-hit-front|operation-|http\/reply|cache\/response|ioredis|lru-cache|validation\.ts|session|JSON|parse/i;
show('inclusive, the admission path and the front', inclusive, (name) => admissionPath.test(name) && !name.startsWith('(anonymous) '), 40);
show('self', self, () => true, 40);
