import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { AdminSetupError, makeAdmin } from '../auth/admins.js';
import { createCache } from '../cache/cache.js';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig } from '../config.js';
import { openDatabase } from '../db/open-database.js';
import { createIdGenerator } from '../ids.js';

/**
 * `npm run admin -- <command>`: operations on a deployment, run with the server's own
 * environment (DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX…) and modules, straight against its
 * PostgreSQL and Redis. Every command takes `--json`.
 */

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // The newline `echo` or a heredoc ends it with is not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Opens the deployment's database and cache for one command, and closes them after. */
async function withDeployment<T>(work: (deps: Parameters<typeof makeAdmin>[0]) => Promise<T>): Promise<T> {
  const config = loadConfig();
  // Warnings and errors only, on stderr: stdout is the command's answer.
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const db = await openDatabase(config, logger);
  try {
    const cache = await createCache(config, { db, registry: new Registry(), logger });
    try {
      return await work({ db, cache, clock: systemClock, newId: createIdGenerator(() => Date.now()) });
    } finally {
      await cache.close();
    }
  } finally {
    await db.close();
  }
}

const program = new Command('recall-admin').description('Operate a Recall deployment with its own configuration.').showHelpAfterError();

program
  .command('create-admin')
  .description('Make the user with this email an admin, creating them when a password is given.')
  .requiredOption('--email <email>', 'the email of the user')
  .option('--password-stdin', 'read the password of a user to create from standard input')
  .option('--json', 'print the result as JSON')
  .action(async (options: { email: string; passwordStdin?: boolean; json?: boolean }) => {
    const password = options.passwordStdin ? await readStdin() : null;
    const made = await withDeployment((deps) => makeAdmin(deps, options.email, password));
    const result = { userId: made.user.id, email: made.user.email, created: made.created, promoted: made.promoted };
    if (options.json) console.log(JSON.stringify(result));
    else if (!made.promoted) console.log(`${made.user.email} (${made.user.id}) already is an admin.`);
    else console.log(`${made.user.email} (${made.user.id}) ${made.created ? 'was created as' : 'is now'} an admin.`);
    // Said in both forms: an operator who gave a password must not believe it was set.
    if (password !== null && !made.created) console.error(`${made.user.email} already existed: its password was left as it was.`);
  });

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (error instanceof ConfigError || error instanceof AdminSetupError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
