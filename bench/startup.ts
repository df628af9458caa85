/**
 * Issue 10's start-up bench: starts the server as a child process in each mode and measures the
 * time until /livez answers, the server process's RSS then (/proc/<pid>/status VmRSS) and the
 * CPU it had spent (utime + stime), which a loaded machine inflates far less than the time.
 * Writes the "Issue 10: start-up" section of bench/RESULTS.md.
 *
 *   npm run bench:startup               # 5 runs per mode
 *   RUNS=3 npm run bench:startup
 *
 * The production mode needs `npm run build` first. The server runs under `node` itself, not npm,
 * so that the process measured is the server (npm start adds an npm process in front of it).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { writeSection } from './results-file.js';
import { median } from './stats.js';
import { freePort } from '../test/helpers/redis-server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env['RUNS'] ?? 5);
const TSX = ['--import', 'tsx', 'src/main.ts'];
const DIST = ['dist/main.js'];

interface Mode {
  name: string;
  args: string[];
  /** The environment of one run, given a fresh scratch folder. */
  env(scratch: string): Record<string, string>;
  /** Runs before each measured one (a first start, to measure a restart). */
  prepare?: boolean;
}

const MODES: Mode[] = [
  { name: 'embedded, first start (template cached)', args: TSX, env: (dir) => ({ DATA_DIR: dir }) },
  {
    name: 'embedded, first start on a fresh install (no template)',
    args: TSX,
    env: (dir) => ({ DATA_DIR: dir, DATA_TEMPLATE_DIR: path.join(dir, 'template') }),
  },
  { name: 'embedded, restart', args: TSX, env: (dir) => ({ DATA_DIR: dir }), prepare: true },
  { name: '`memory://`', args: TSX, env: () => ({ DATABASE_URL: 'memory://' }) },
  { name: 'production `node dist/main.js`, first start', args: DIST, env: (dir) => ({ DATA_DIR: dir }) },
  { name: 'production `node dist/main.js`, restart', args: DIST, env: (dir) => ({ DATA_DIR: dir }), prepare: true },
  { name: 'production `node dist/main.js`, `memory://`', args: DIST, env: () => ({ DATABASE_URL: 'memory://' }) },
];

interface Sample {
  seconds: number;
  rssMb: number;
  cpuSeconds: number;
}

const CLOCK_TICKS = 100;

function measureProcess(pid: number): { rssMb: number; cpuSeconds: number } {
  const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th of the line.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssMb: rssKb / 1024, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS };
}

async function start(mode: Mode, scratch: string, measure: boolean): Promise<Sample | undefined> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, mode.args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], PORT: String(port), LOG_LEVEL: 'warn', ...mode.env(scratch) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${mode.name}: the server exited with ${child.exitCode}`);
      const answered = await fetch(`http://127.0.0.1:${port}/livez`).then((response) => response.ok, () => false);
      if (answered) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    return measure ? { seconds, ...measureProcess(child.pid!) } : undefined;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

async function run(mode: Mode): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const scratch = await mkdtemp(path.join(tmpdir(), 'recall-startup-'));
    try {
      if (mode.prepare) await start(mode, scratch, false);
      samples.push((await start(mode, scratch, true))!);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  return samples;
}

const rows: string[] = [];
const loads: number[] = [];
for (const mode of MODES) {
  loads.push(loadavg()[0]!);
  const samples = await run(mode);
  const line = `| ${mode.name} | ${median(samples.map((s) => s.seconds)).toFixed(1)} s | ${median(samples.map((s) => s.cpuSeconds)).toFixed(1)} s | ${Math.round(median(samples.map((s) => s.rssMb)))} MB | ${samples.map((s) => s.seconds.toFixed(1)).join(', ')} |`;
  console.log(line);
  rows.push(line);
}

await writeSection(
  '## Issue 10: start-up',
  `Measured by \`npm run bench:startup\` (${RUNS} runs per mode, medians): the time from spawning
\`node\` until \`GET /livez\` answers, the CPU the server process had spent by then, and its RSS
(VmRSS). The machine has 2 cores; its 1-minute load average was ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}
while this ran (other work shared it), so the CPU column is the steadier figure.

| Start | Time to /livez | CPU | RSS | Each run |
|---|---|---|---|---|
${rows.join('\n')}
`,
);
