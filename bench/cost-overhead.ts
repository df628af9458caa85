/**
 * What costing an operation adds to each request, measured as admission does it
 * (src/admission/admission.ts): the document through the parse memo, then `operationCost` with
 * the request's variables, on the schema built as src/app.ts builds it. Also the cost of a few
 * operations, and how long the issue's stall query takes to be costed and refused, in process
 * and over HTTP.
 */
import type { AddressInfo } from 'node:net';
import { parse } from 'graphql';
import { pino } from 'pino';
import { operationCost } from '../src/admission/operation-cost.js';
import { createDocumentMemo } from '../src/admission/operation-document.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/open-database.js';
import { variablesProblem } from '../src/validation.js';
import { LIST_QUERY } from './cached-hit-query.js';
import { EVERYDAY, STALL_QUERY } from './cost-operations.js';
import { createCoster } from './cost-schema.js';
import { gql as send } from './gql.js';
import { median } from './stats.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';

const RUNS = 9;
const RUN_MS = 150;
const config = loadConfig({ DATABASE_URL: 'memory://', LOG_LEVEL: 'silent', NODE_ENV: 'production', SESSION_SECRET: BENCH_SESSION_SECRET });
// Ids of the right shape; costing never reads them.
const VARIABLES = { id: 'ctx_01JB0000000000000000000000', memory: 'mem_01JB0000000000000000000000' };

/** µs per call of `fn`: the median of RUNS runs of about RUN_MS each (after as long a warm-up), and their range. */
function time(fn: (i: number) => unknown): { median: number; min: number; max: number } {
  let iterations = 0;
  const warmup = performance.now();
  while (performance.now() - warmup < RUN_MS) fn(iterations++);
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn(i);
    runs.push(Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs) };
}

/** µs of one call, the first in this process (nothing of it has been compiled yet). */
function once(fn: () => unknown): number {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1000;
}

const us = (value: number) => (value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));
const range = (t: { median: number; min: number; max: number }) => `${us(t.median)} (${us(t.min)}–${us(t.max)})`;

export async function benchmarkCostOverhead(): Promise<string> {
  const coster = createCoster(config);
  const { schema, limits, options: costOptions } = coster;
  const parseOptions = { noLocation: true, maxTokens: config.MAX_QUERY_TOKENS };
  const costOf = (memo: ReturnType<typeof createDocumentMemo>, source: string, operationName: string | undefined, variables: Record<string, unknown>) =>
    coster.cost(source, operationName, variables, memo);

  // First in this process: the parser is warm (the SDL went through it), this document and the cost walk are not.
  const firstMemo = createDocumentMemo(config.MAX_QUERY_TOKENS);
  const firstParse = once(() => parse(LIST_QUERY, parseOptions));
  const firstCost = once(() => costOf(firstMemo, LIST_QUERY, 'List', { id: VARIABLES.id }));
  const firstStall = once(() => costOf(firstMemo, STALL_QUERY, 'Stall', {}));

  const memo = createDocumentMemo(config.MAX_QUERY_TOKENS);
  const document = memo.parse(LIST_QUERY);
  const perRequest = time((i) => costOf(memo, LIST_QUERY, 'List', { id: `${VARIABLES.id.slice(0, -1)}${i % 10}` }));
  const lookup = time(() => memo.parse(LIST_QUERY));
  const walk = time(() => operationCost(schema, document, 'List', { id: VARIABLES.id }, limits, costOptions));
  const coldParse = time(() => parse(LIST_QUERY, parseOptions));
  const variables = time(() => variablesProblem({ id: VARIABLES.id }, config.MAX_VARIABLE_DEPTH));
  const stallWarm = time(() => costOf(memo, STALL_QUERY, 'Stall', {}));
  // A new document every time (its operation's name differs), so the memo always misses.
  const stallCold = time((i) => {
    const fresh = createDocumentMemo(config.MAX_QUERY_TOKENS);
    return costOf(fresh, STALL_QUERY.replace('query Stall', `query Stall${i}`), `Stall${i}`, {});
  });

  const rows = EVERYDAY.map((operation) => {
    const cost = costOf(memo, operation.query, operation.operationName, VARIABLES);
    const warm = time(() => costOf(memo, operation.query, operation.operationName, VARIABLES));
    const calls = cost.limitedCalls.map((call) => `${call.group.split('|')[0]} × ${call.count}`).join(', ') || '–';
    const verdict = cost.points > config.MAX_OPERATION_COST ? `refused (> ${config.MAX_OPERATION_COST})` : 'accepted';
    return `| ${operation.name} | ${cost.nodes.toLocaleString('en')} | ${cost.points.toLocaleString('en')} | ${verdict} | ${calls} | ${us(warm.median)} |`;
  });

  const http = await refusalOverHttp();
  const listCost = costOf(memo, LIST_QUERY, 'List', VARIABLES);
  return `### Cost analysis: overhead per operation

\`npm run bench:cost -- overhead\` (bench/cost-overhead.ts), in one process, no server: the schema
built as src/app.ts builds it (\`loadTypeDefs\`, \`withCacheControl\`, \`createSchema\` with the
resolvers, \`readFieldLimits\`), costed as admission costs (\`createDocumentMemo\`, then
\`operationCost\` with the request's variables and DEFAULT_PAGE_SIZE 20, MAX_PAGE_SIZE 100).
Each figure is µs per operation, the median of ${RUNS} runs of a tight loop (range in brackets).
The cached-hit front keeps what admission prepared (cost, variables checked) by request text, so
a request repeated word for word pays neither; a new request text (other variables, say), and
every request through yoga's pipeline, pays the first row.

**The 20-memory list** (bench/cached-hit-query.ts; ${listCost.nodes} nodes, ${listCost.points} point):

| step | µs / operation |
|---|---:|
| per new request text, as admission prepares it: memo lookup + \`operationCost\` (new variables each time) | **${range(perRequest)}** |
| the memo lookup alone (LRU get of the source text) | ${range(lookup)} |
| \`operationCost\` alone, on the parsed document (the same variables each time) | ${range(walk)} |
| cold parse (a memo miss: \`parse\` with noLocation, maxTokens ${config.MAX_QUERY_TOKENS}) | ${range(coldParse)} |
| \`variablesProblem\` (admission's variables check, before costing) | ${range(variables)} |
| first parse of this document in the process (once, not yet optimised) | ${us(firstParse)} |
| first \`operationCost\` in the process (once: field costs read from the SDL) | ${us(firstCost)} |

**Costs of representative operations** (1 node per object and 0 per scalar, but for the SDL's
\`@cost\`: ${coster.weights().map((weight) => `\`${weight}\``).join(', ')}; 100 nodes a point;
MAX_OPERATION_COST ${config.MAX_OPERATION_COST}); "µs" is memo lookup + \`operationCost\` once the document is memoised:

| operation | nodes | points | verdict | rate-limited calls | µs |
|---|---:|---:|---|---|---:|
${rows.join('\n')}

**The stall query** (30 aliases of \`contexts(first:100){…memories(first:100){…history(first:100){content previousContent}}}\`):
costing it takes ${us(firstStall)} µs the first time in the process, ${range(stallCold)} µs for
a new document (parse + cost; a new operation name each time, so the memo misses), and
${range(stallWarm)} µs once memoised. Over HTTP (an app on this process's loopback, embedded
database, a FREE user's token, default settings; ${http.count} requests one after another after 20
to warm up), the refusal (400, COST_ESTIMATED_TOO_EXPENSIVE) takes, in ms (median / p99 / max):

| | in the server (request to last byte written) | at the client (fetch, same process) |
|---|---:|---:|
| a new document each time | ${http.fresh.server} | ${http.fresh.client} |
| the same document again | ${http.repeated.server} | ${http.repeated.client} |

Target: refused in under 5 ms: ${http.fresh.server.split(' / ').every((v) => Number(v) < 5) ? '**met** at every percentile in the server' : Number(http.fresh.server.split(' / ')[0]) < 5 ? '**met** at the median in the server, not at every percentile (see the tail: the machine is shared)' : '**not met**'}.`;
}

/** The stall query's refusal over HTTP, in ms (median / p99 / max) at the client and in the server: new documents, and a repeated one. */
async function refusalOverHttp(): Promise<{ fresh: { client: string; server: string }; repeated: { client: string; server: string }; count: number }> {
  const logger = pino({ level: 'silent' });
  const db = await openDatabase(config, logger);
  const app = createApp({ config, db, logger });
  try {
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql`;
    const token: string = (await send(fetch, url, 'mutation { signUp(input: { email: "cost@example.com", password: "cost password" }) { token } }')).signUp.token;
    const count = 300;
    // Server side: from the request's headers to the reply's last byte handed to the socket.
    let served: number[] = [];
    app.server.prependListener('request', (_req, res) => {
      const started = performance.now();
      res.once('finish', () => served.push(performance.now() - started));
    });
    const stats = (times: number[]): string => {
      const sorted = times.slice(20).sort((x, y) => x - y);
      return [median(sorted), sorted[Math.floor(sorted.length * 0.99)]!, sorted.at(-1)!].map((ms) => ms.toFixed(2)).join(' / ');
    };
    const measure = async (queryOf: (i: number) => string) => {
      const times: number[] = [];
      served = [];
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: queryOf(i) }),
        });
        const body = (await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
        times.push(performance.now() - started);
        if (response.status !== 400 || body.errors?.[0]?.extensions?.code !== 'COST_ESTIMATED_TOO_EXPENSIVE') throw new Error(`the stall query was not refused: ${response.status} ${JSON.stringify(body)}`);
      }
      return { client: stats(times), server: stats(served) };
    };
    const fresh = await measure((i) => STALL_QUERY.replace('query Stall', `query Stall${i}`));
    const repeated = await measure(() => STALL_QUERY);
    return { fresh, repeated, count: count - 20 };
  } finally {
    app.server.close();
    await app.close();
    await db.close();
  }
}
