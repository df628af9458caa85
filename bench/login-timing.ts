/**
 * `npm run bench:login`: whether a login's answer time tells an unknown email from a wrong password: both are timed
 * through the login service (a user lookup, then scrypt against the user's hash or a decoy's),
 * interleaved in one process, on embedded PGlite. Writes "### Login timing" into the "Issue 11"
 * section of bench/RESULTS.md. BENCH_LOGIN_ROUNDS sets the rounds (default 60).
 */
import { pino } from 'pino';
import { login, signUp } from '../src/auth/accounts.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/open-database.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';
import { ISSUE_11, writeSubsections } from './results-file.js';
import { median, percentile } from './stats.js';

const ROUNDS = Number(process.env['BENCH_LOGIN_ROUNDS'] ?? 60);

async function benchmarkLoginTiming(): Promise<string> {
  const config = loadConfig({ DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', NODE_ENV: 'production', SESSION_SECRET: BENCH_SESSION_SECRET });
  const logger = pino({ level: 'silent' });
  const db = await openDatabase(config, logger);
  const app = createApp({ config, db, logger });
  const meta = { userAgent: null, ip: null };
  try {
    await signUp(app.deps, { email: 'timing@example.com', password: 'the right password' }, meta);
    const kinds = {
      'wrong password': { email: 'timing@example.com', password: 'a wrong password' },
      'unknown email': { email: 'nobody-here@example.com', password: 'a wrong password' },
      'right password': { email: 'timing@example.com', password: 'the right password' },
    } as const;
    const times = new Map<string, number[]>(Object.keys(kinds).map((kind) => [kind, []]));
    // Warm-up: the decoy hash is made on the first unknown email.
    for (const input of Object.values(kinds)) await login(app.deps, input, meta);
    for (let round = 0; round < ROUNDS; round++) {
      // A different order each round, so that no kind always runs first.
      const order = Object.entries(kinds).sort(() => Math.random() - 0.5);
      for (const [kind, input] of order) {
        const started = performance.now();
        await login(app.deps, input, meta);
        times.get(kind)!.push(performance.now() - started);
      }
    }
    const rows = [...times].map(([kind, samples]) => `| ${kind} | ${median(samples).toFixed(1)} | ${percentile(samples, 0.1).toFixed(1)} | ${percentile(samples, 0.9).toFixed(1)} |`);
    const ratio = median(times.get('unknown email')!) / median(times.get('wrong password')!);
    return [
      '### Login timing',
      '',
      `\`npm run bench:login\`: ${ROUNDS} interleaved rounds of each kind of login, through the login service on embedded PGlite (scrypt N=2^15).`,
      '',
      '| login | median ms | p10 ms | p90 ms |',
      '|---|---:|---:|---:|',
      ...rows,
      '',
      `Unknown email / wrong password, medians: ${ratio.toFixed(3)}. An unknown email runs scrypt against a decoy hash of the same parameters, so the two differ by no more than noise; the right password costs the same scrypt plus a session insert.`,
    ].join('\n');
  } finally {
    await app.close();
    await db.close();
  }
}

const section = await benchmarkLoginTiming();
await writeSubsections(
  ISSUE_11,
  'What issue 11 asks of the benchmark. Each subsection names the command that wrote it; the machine is shared and noisy: compare rows measured side by side in one run.',
  [section],
);
process.stdout.write(`\n${section}\n`);
process.exit(0);
