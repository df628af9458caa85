/** The cached-hit benchmark's section of bench/RESULTS.md: a table per connection count, and issue 13's targets. */

export interface CachedHitOptions {
  /** Times every server is started afresh. */
  runs: number;
  /** Rounds per run; each measures every set-up in turn at every connection count. */
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  /** Connection counts, the targets' (50) first. */
  connections: number[];
}

export interface CachedHitRow {
  /** The server variant, and the checkout it ran from (undefined: this one). */
  id: string;
  checkout: string | undefined;
  name: string;
  peer: boolean;
  /** Its cache is in Redis. */
  redis: boolean;
  connections: number;
  /** Measured runs pooled (rounds × runs). */
  samples: number;
  /** The body of one 200 reply, in bytes. */
  bodyBytes: number;
  /** The figures below are medians over the samples. */
  rps: number;
  /** Of each sample's ratio to the floor's req/s in the same round, at the same connection count. */
  ratio: number;
  /** Server CPU time per request, µs: the cost, whoever is the bottleneck. */
  cpuPerRequest: number;
  /** redis-server's CPU time per request over the same runs, µs. */
  redisCpuPerRequest: number;
  /** The two added up in each sample, µs. */
  totalCpuPerRequest: number;
  /** Runs of the query's root resolver per request (peers: 0 when every request is a cache hit); null where not counted. */
  rootResolverRunsPerRequest: number | null;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** The command that reproduces these settings. */
function command(options: CachedHitOptions): string {
  const env = [
    `BENCH_RUNS=${options.runs}`,
    `BENCH_ROUNDS=${options.rounds}`,
    `BENCH_SECONDS=${options.seconds}`,
    `BENCH_CONNECTIONS=${options.connections.join(',')}`,
    ...['BENCH_VARIANTS', 'BENCH_BASELINE_CHECKOUT', 'BENCH_WRITE_RESULTS'].filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`),
  ];
  const sections = process.argv.slice(2);
  return `${env.join(' ')} npm run bench${sections.length ? ` -- ${sections.join(' ')}` : ''}`;
}

// Three decimals: a verdict must not read as contradicting its figure (0.449 is not 0.45).
const verdict = (met: boolean) => (met ? 'met' : '**not met**');

/** Issue 13's cached-hit targets, at the first connection count (c50). */
function targets(rows: CachedHitRow[]): string[] {
  const ofThisCheckout = (id: string) => rows.find((row) => row.id === id && row.checkout === undefined);
  const lines: string[] = [];
  const redis = ofThisCheckout('recall-redis');
  const bestPeerWithRedis = rows.filter((row) => row.peer && row.redis).sort((a, b) => b.ratio - a.ratio)[0];
  if (redis) {
    const overPeer = bestPeerWithRedis
      ? `, and ${(redis.ratio / bestPeerWithRedis.ratio).toFixed(2)}× the best peer with Redis (${bestPeerWithRedis.name}, ${bestPeerWithRedis.ratio.toFixed(3)}×): ${verdict(redis.ratio >= 2 * bestPeerWithRedis.ratio)}; ` +
        `by CPU per request, Redis's included, it costs ${(redis.totalCpuPerRequest / bestPeerWithRedis.totalCpuPerRequest).toFixed(2)}× that peer's`
      : ', no peer with Redis measured';
    lines.push(`- Recall with Redis ≥ 0.40× the floor and ≥ 2× the best peer with Redis: **${redis.ratio.toFixed(3)}×** the floor: ${verdict(redis.ratio >= 0.4)}${overPeer}.`);
  }
  const inProcess = ofThisCheckout('recall');
  if (inProcess) lines.push(`- Recall in process ≥ 0.45× the floor: **${inProcess.ratio.toFixed(3)}×**: ${verdict(inProcess.ratio >= 0.45)}.`);
  return lines;
}

function table(rows: CachedHitRow[]): string {
  const floor = rows[0]!;
  const perRequest = (value: number) => (value < 10 ? value.toFixed(1) : value.toFixed(0));
  return [
    '| set-up | req/s | × floor | server CPU µs / req | Redis CPU µs / req | total CPU µs / req | floor CPU ÷ this | root resolver runs / req | p50 ms | p99 ms | body bytes | non-2xx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${Math.round(row.rps)} | ${row.ratio.toFixed(2)} | ${perRequest(row.cpuPerRequest)} | ${perRequest(row.redisCpuPerRequest)} | ${perRequest(row.totalCpuPerRequest)} | ` +
        `${(floor.totalCpuPerRequest / row.totalCpuPerRequest).toFixed(2)} | ${row.rootResolverRunsPerRequest === null ? '–' : row.rootResolverRunsPerRequest.toFixed(3)} | ${row.p50} | ${row.p99} | ${row.bodyBytes} | ${row.non2xx} | ${row.errors} |`,
    ),
  ].join('\n');
}

export function cachedHitReport(rows: CachedHitRow[], options: CachedHitOptions): string {
  const levels = options.connections.map((connections) => rows.filter((row) => row.connections === connections));
  const samples = options.runs * options.rounds;
  return `## Cached hit against the floor

Produced by \`${command(options)}\` (\`npm run bench -- cached-hit\` runs this part alone, and
writes it here only with BENCH_WRITE_RESULTS=1).
The same 20-memory query (context, relevance), repeated by one user, at ${options.connections.join(' and ')} connections:
${options.runs} runs, each starting every server afresh, of ${options.rounds} rounds that measure every set-up in turn at
every connection count, ${options.seconds} s each after a ${options.warmupSeconds} s warm-up. Every figure is the median of the ${samples}
measurements of a set-up; "× floor" is the median of each measurement's ratio to the floor's req/s in
the same round. The floor sends Recall's own reply to a hit as fixed bytes (its body, with
\`extensions.cost\`, and its headers). Each server runs in a child process of its own
(NODE_ENV=production, as the Dockerfile sets it), the load generator (autocannon) in this one.

Every Recall row validates the bearer token, costs the operation and spends its points from the
budget on every request. The peers run Recall's schema, resolvers and stores (bench/cached-hit-peers.ts)
with their own response caches, per user, and check the token on every request, but cost nothing
and spend no budget. Every set-up answers the same memories, and a peer's repeated request is
checked to be answered without running its root resolver ("root resolver runs / req": 0 when
every measured request was a hit). "Server CPU µs / req" is the server process's CPU time per
answered request and "Redis CPU µs / req" redis-server's (INFO cpu) over the same run; only the
measured set-up sends load then, though other work on this shared machine may use that Redis too.
CPU per request does not depend on whether the server or the load generator (one process,
sharing the machine) is the bottleneck, so "floor CPU ÷ this" (total CPU) is the steadier ratio.

### Issue 13's targets (c${options.connections[0]})

${targets(levels[0] ?? []).join('\n') || 'No Recall row measured.'}

${levels.map((level, index) => `### ${options.connections[index]} connections\n\n${table(level)}`).join('\n\n')}
`;
}
