import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface RedisServerOptions {
  /** Where it keeps its files (AOF, RDB); default: it keeps nothing. */
  dir?: string;
  /** Log every write to an append-only file in `dir`, replayed when it starts again. */
  appendonly?: boolean;
}

export interface RedisServer {
  url: string;
  /** Freezes the process (SIGSTOP) or lets it go on (SIGCONT), as a stalled host would. */
  signal(signal: 'SIGSTOP' | 'SIGCONT'): void;
  /** Kills it (SIGKILL): whatever it had not written to disk is lost. */
  stop(): Promise<void>;
}

/** A throwaway redis-server on a port of its own, for tests that freeze, kill and restart it. */
export async function startRedisServer(port: number, options: RedisServerOptions = {}): Promise<RedisServer> {
  const persistence = options.dir
    ? ['--dir', options.dir, '--appendonly', options.appendonly ? 'yes' : 'no', '--save', '']
    : ['--save', '', '--appendonly', 'no'];
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // Refused connections are expected until the server listens; connect() reports them too.
  probe.on('error', () => undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      await probe.connect();
      // A server still loading its files answers LOADING: wait until it serves.
      await probe.ping();
      break;
    } catch (error) {
      if (attempt > 200) throw error;
      probe.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  probe.disconnect();
  return {
    url,
    signal(signal) {
      child.kill(signal);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
  };
}
