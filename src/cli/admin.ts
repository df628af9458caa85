import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { AdminSetupError, makeAdmin } from '../auth/admins.js';
import { clearUnder, findTopKeys } from '../cache/key-scan.js';
import { ConfigError } from '../config.js';
import { purge } from '../services/cache-purge.js';
import { readCacheStats, STATS_MAX_KEYS } from '../services/cache-stats.js';
import { warm } from '../services/cache-warm.js';
import { resetLimits } from '../services/rate-limits.js';
import type { UserError } from '../errors.js';
import { Refusal, withApp, withDeployment, withRedis } from './deployment.js';
import { scanProgress } from './progress.js';

/**
 * `npm run admin -- <command>`: operations on a deployment, run with the server's own
 * environment (DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX…) and modules, straight against its
 * PostgreSQL and Redis. Every command takes `--json`. Exit codes: 0 done, 2 refused (bad usage,
 * bad input, or a prefix that holds no Recall data without --force).
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // The newline `echo` or a heredoc ends it with is not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

interface Common {
  json?: boolean;
  force?: boolean;
}

/** Prints the result: JSON on --json, else the human form. */
function print<T>(options: Common, result: T, human: (result: T) => string): void {
  console.log(options.json ? JSON.stringify(result) : human(result));
}

/** User errors (unknown id, bad identity) refuse the command. */
function refuseOnErrors(errors: readonly UserError[]): void {
  if (errors.length > 0) throw new Refusal(errors.map((error) => `${error.code}: ${error.message}`).join('\n'));
}

const positiveInt = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('a positive integer is expected.');
  return parsed;
};

const percent = (ratio: number | null) => (ratio === null ? '-' : `${(ratio * 100).toFixed(1)}%`);

const program = new Command('recall-admin')
  .description('Operate a Recall deployment with its own configuration.')
  .showHelpAfterError()
  // Before the commands: they inherit it. Usage errors then exit 2 (see the end).
  .exitOverride();

program
  .command('create-admin')
  .description('Make the user with this email an admin, creating them when a password is given.')
  .requiredOption('--email <email>', 'the email of the user')
  .option('--password-stdin', 'read the password of a user to create from standard input')
  .option('--json', 'print the result as JSON')
  .action(async (options: { email: string; passwordStdin?: boolean; json?: boolean }) => {
    const password = options.passwordStdin ? await readStdin() : null;
    // Run before the first start too, when the prefix holds nothing yet.
    const made = await withApp({ force: true }, (deps) => makeAdmin(deps, options.email, password));
    const result = { userId: made.user.id, email: made.user.email, created: made.created, promoted: made.promoted };
    if (options.json) console.log(JSON.stringify(result));
    else if (!made.promoted) console.log(`${made.user.email} (${made.user.id}) already is an admin.`);
    else console.log(`${made.user.email} (${made.user.id}) ${made.created ? 'was created as' : 'is now'} an admin.`);
    // Said in both forms: an operator who gave a password must not believe it was set.
    if (password !== null && !made.created) console.error(`${made.user.email} already existed: its password was left as it was.`);
  });

program
  .command('stats')
  .description('Hit ratios (of this process: see the cacheStats query for a server\'s), keys by kind, Redis memory, top keys, circuit.')
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (options: Common) => {
    const stats = await withDeployment(options, async ({ cache }) => {
      const total = cache.redis ? await cache.redis.dbsize() : 0;
      const progress = scanProgress({ enabled: !options.json, total: Math.min(total, STATS_MAX_KEYS), label: 'Counting keys' });
      try {
        return await readCacheStats(cache, { onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
    });
    print(options, stats, (s) =>
      [
        `circuit: ${s.circuit}`,
        s.redis
          ? `redis: ${s.redis.usedMemoryBytes} bytes used, ${s.redis.evictedKeys} evicted, ${s.redis.expiredKeys} expired, keyspace hits ${s.redis.keyspaceHits} / misses ${s.redis.keyspaceMisses}`
          : 'redis: none',
        `keys${s.keysComplete ? '' : ` (a sample: the scan stopped at ${STATS_MAX_KEYS})`}:`,
        ...s.keys.map((k) => `  ${k.kind.padEnd(16)} ${k.count}`),
        `top keys (${s.topKeys[0]?.method ?? '-'}):`,
        ...s.topKeys.map((k) => `  ${String(k.score).padStart(10)}  ${k.key}`),
        `lookups of this process: ${s.lookups.map((l) => `${l.kind}/${l.tier} ${percent(l.hitRatio)}`).join(', ') || 'none'}`,
      ].join('\n'),
    );
  });

program
  .command('top-keys')
  .description('The most accessed keys (OBJECT FREQ, under an LFU maxmemory-policy) or else the largest (MEMORY USAGE), by SCAN.')
  .option('--kind <kind>', 'only keys of this kind (memory, score, response…)')
  .option('--limit <n>', 'how many keys', positiveInt, 20)
  .option('--max-keys <n>', 'look at no more keys than this', positiveInt, STATS_MAX_KEYS)
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (options: Common & { kind?: string; limit: number; maxKeys: number }) => {
    const top = await withRedis(options, async (client, keys) => {
      const progress = scanProgress({ enabled: !options.json, total: await client.dbsize(), label: 'Sampling keys' });
      try {
        return await findTopKeys(client, keys, { kind: options.kind, limit: options.limit, maxKeys: options.maxKeys, onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
    });
    print(options, top, (t) =>
      [
        `method: ${t.method} (${t.method === 'OBJECT_FREQ' ? 'the LFU access counter' : 'bytes: the maxmemory-policy is not LFU, so Redis counts no accesses'})`,
        `looked at ${t.scanned} keys${t.complete ? '' : ' (stopped at --max-keys: a sample)'}`,
        ...t.keys.map((k) => `${String(k.score).padStart(10)}  ${k.key}`),
      ].join('\n'),
    );
  });

program
  .command('ttl <key>')
  .description('The time to live of one key under the prefix (given with or without it).')
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (key: string, options: Common) => {
    const result = await withRedis(options, async (client, keys) => {
      const name = key.startsWith(keys.prefix) ? key.slice(keys.prefix.length) : key;
      const ttlMs = await client.pttl(keys.prefix + name);
      // PTTL: -2 when there is no such key, -1 when it does not expire.
      return { key: name, exists: ttlMs !== -2, ttlMs: ttlMs >= 0 ? ttlMs : null };
    });
    print(options, result, (r) => (!r.exists ? `${r.key}: no such key` : r.ttlMs === null ? `${r.key}: does not expire` : `${r.key}: expires in ${r.ttlMs} ms`));
  });

program
  .command('clear <pattern>')
  .description('SCAN + UNLINK the keys under the prefix matching the pattern (a glob applied after the prefix); never outside it.')
  .option('--dry-run', 'count and show what would be deleted, delete nothing')
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (pattern: string, options: Common & { dryRun?: boolean }) => {
    const cleared = await withRedis(options, async (client, keys) => {
      const progress = scanProgress({ enabled: !options.json, total: await client.dbsize(), label: options.dryRun ? 'Matching keys' : 'Clearing keys' });
      try {
        return { pattern, dryRun: options.dryRun === true, ...(await clearUnder(client, keys, pattern, { dryRun: options.dryRun, onProgress: progress.onProgress })) };
      } finally {
        progress.stop();
      }
    });
    print(options, cleared, (c) =>
      [
        c.dryRun ? `would delete ${c.matched} keys (dry run: nothing deleted)` : `deleted ${c.deleted} of ${c.matched} matching keys`,
        ...(c.kept > 0 ? [`kept ${c.kept} guard keys (entity-pos, response-pos, response-tag): they keep the cache exact, and expire on their own`] : []),
        ...c.sample.map((key) => `  ${key}`),
      ].join('\n'),
    );
  });

program
  .command('purge <typename> <id>')
  .description('Purge one Memory, Context (with its lists) or User (with every response of theirs) on every instance, like purgeCache.')
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (typename: string, id: string, options: Common) => {
    if (typename !== 'Memory' && typename !== 'Context' && typename !== 'User') throw new Refusal('typename must be Memory, Context or User.');
    // A purge of one entity is recorded in its owner's name, not the operator's.
    const result = await withApp(options, (deps) => purge(deps, { typename, id }, ''));
    refuseOnErrors(result.errors);
    print(options, { typename, id, purged: result.purged }, (r) => `purged ${r.typename} ${r.id}: ${r.purged} keys and tags invalidated on every instance`);
  });

program
  .command('warm <contextId>')
  .description('Load a context, its memories and their scores into the cache, in batches.')
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (contextId: string, options: Common) => {
    const result = await withApp(options, async (deps, read) => {
      const progress = scanProgress({ enabled: !options.json, total: 0, label: 'Warming' });
      try {
        return await warm(deps, await read(), { contextId }, (so) => progress.onProgress(so.memories));
      } finally {
        progress.stop();
      }
    });
    refuseOnErrors(result.errors);
    const { errors: _errors, ...counts } = result;
    print(options, { contextId, ...counts }, (r) => `warmed ${r.contextId}: ${r.contexts} context, ${r.memories} memories, ${r.scores} scores`);
  });

program
  .command('reset-rate-limit <identity> [field]')
  .description('Forget the counts of user:<id> or ip:<address> for one limited field (e.g. Mutation.login), or all of them and its budget.')
  .option('--json', 'print the result as JSON')
  .option('--force', 'run even if the prefix holds no Recall data')
  .action(async (identity: string, field: string | undefined, options: Common) => {
    const result = await withApp(options, (deps) => resetLimits(deps, { identity, field }));
    refuseOnErrors(result.errors);
    print(options, { identity, field: field ?? null, reset: true }, (r) => `reset ${r.field ?? 'every limit and the budget'} of ${r.identity}`);
  });

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) {
    // Help and version are answers; anything else commander stops on is a usage error.
    process.exit(error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2);
  }
  if (error instanceof ConfigError || error instanceof AdminSetupError || error instanceof Refusal) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
