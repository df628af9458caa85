import { randomBytes } from 'node:crypto';

/**
 * The SESSION_SECRET of a benchmark's servers (NODE_ENV=production requires one): one per
 * process, so that instances sharing a Redis open each other's sealed sessions.
 */
export const BENCH_SESSION_SECRET = randomBytes(32).toString('base64');
