import type { Redis } from 'ioredis';

/** The fields of an `INFO` reply (`name:value` lines; section headers and blanks skipped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}

export interface RedisMemoryStats {
  usedMemoryBytes: number;
  evictedKeys: number;
  expiredKeys: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  /** What Redis evicts by; `OBJECT FREQ` answers only under an LFU policy. */
  maxmemoryPolicy: string;
}

/** Memory and keyspace figures from `INFO memory` and `INFO stats` (one round trip). */
export async function readRedisStats(client: Redis): Promise<RedisMemoryStats> {
  const replies = (await client.pipeline().info('memory').info('stats').exec()) ?? [];
  const fields = new Map<string, string>();
  for (const [error, reply] of replies) {
    if (error) throw error;
    for (const [name, value] of parseInfo(String(reply))) fields.set(name, value);
  }
  const number = (name: string) => Number(fields.get(name) ?? 0);
  return {
    usedMemoryBytes: number('used_memory'),
    evictedKeys: number('evicted_keys'),
    expiredKeys: number('expired_keys'),
    keyspaceHits: number('keyspace_hits'),
    keyspaceMisses: number('keyspace_misses'),
    maxmemoryPolicy: fields.get('maxmemory_policy') ?? 'noeviction',
  };
}
