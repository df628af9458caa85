import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { LRUCache } from 'lru-cache';
import { authenticate } from './auth/sessions.js';
import { clientIp } from './client-ip.js';
import type { AppDeps, Viewer } from './graphql-context.js';
import type { RequestListener } from './http-server.js';
import { markCounted, spenderOf } from './plugins/use-operation-budget.js';
import { CACHE_DEBUG_HEADER, responseCacheKey, type ResponseKeyParams } from './plugins/use-recall-response-cache.js';
import { budgetHeaders, budgetRefusal } from './rate-limit/budget-responses.js';
import type { BudgetDecision } from './rate-limit/operation-budget.js';

/** What the response-cache key is made of, but the viewer. */
type Operation = Omit<ResponseKeyParams, 'sessionId'> & { operationName: string | undefined };

type HttpHeaders = Record<string, string>;

const MAX_MEMOISED_SOURCE = 4_096;

/**
 * Answers cache hits before yoga's request pipeline, which costs several times what a hit
 * itself does. It takes the same steps a hit takes through yoga (bearer token, operation
 * budget, the viewer-scoped key of the same response cache, ETag/304, Cache-Control) and
 * hands everything else to yoga untouched: misses, anonymous and refused callers, mutations
 * (never cached), subscriptions and anything it does not recognise. A request body it has read
 * is passed on as `req.body`, which yoga's node adapter uses in place of the stream.
 */
export function createCachedResponseFastPath(deps: AppDeps, endpoint: string, fallback: RequestListener): RequestListener {
  const { config, logger } = deps;
  const hits = { ok: deps.cache.metrics.fastPathHits.labels({ status: '200' }), notModified: deps.cache.metrics.fastPathHits.labels({ status: '304' }) };

  // Cached results are shared objects, so each is serialised and encoded once: the body of a hit
  // without extensions (the usual case outside development) is then the same bytes every time.
  const encoded = new WeakMap<object, Buffer>();
  const encodedBody = (data: NonNullable<ExecutionResult['data']>): Buffer => {
    let bytes = encoded.get(data);
    if (!bytes) {
      bytes = Buffer.from(JSON.stringify({ data }));
      encoded.set(data, bytes);
    }
    return bytes;
  };

  // Recent (viewer, request) pairs that were hits, and their keys: a repeated request skips
  // parsing and hashing. Small requests only, so the memo stays small (at most ~40 MB).
  const keys = new LRUCache<string, { key: string; operationName: string | undefined }>({ max: 10_000 });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const source = await readSource(req, endpoint);
    if (source === null || !config.RESPONSE_CACHE_ENABLED) return fallback(req, res);
    const viewer = await authenticate(deps, req.headers.authorization ?? null).catch(() => null);
    // Anonymous and refused callers (401) are yoga's to answer.
    if (!viewer) return fallback(req, res);
    const memo = `${viewer.user.id}\n${source}`;
    const memoised = keys.get(memo);
    let known = memoised;
    if (!known) {
      const operation = operationOf(req.method === 'GET' ? getParams(source) : parseJson(source));
      if (!operation) return fallback(req, res);
      known = { key: responseCacheKey({ ...operation, sessionId: viewer.user.id }), operationName: operation.operationName };
    }

    const spender = spenderOf(viewer, clientIp(config.TRUST_PROXY, header(req, 'x-forwarded-for'), req.socket.remoteAddress));
    const decision = spender ? await deps.budget.spend(spender) : null;
    if (decision && !decision.allowed) {
      const refusal = budgetRefusal(decision);
      return send(res, refusal.status, refusal.headers, refusal.body, started, known.operationName);
    }
    const cached = await deps.responses.get(known.key);
    if (!cached) {
      if (decision) markCounted(req, decision);
      return fallback(req, res);
    }
    if (!memoised && source.length <= MAX_MEMOISED_SOURCE) keys.set(memo, known);
    replyFromCache(req, res, viewer, cached, decision, started, known.operationName);
  }

  function replyFromCache(
    req: IncomingMessage,
    res: ServerResponse,
    viewer: Viewer,
    cached: ExecutionResult,
    decision: BudgetDecision | null,
    started: number,
    operationName: string | undefined,
  ): void {
    const { http, responseCache: _metadata, ...extensions } = (cached.extensions ?? {}) as {
      http?: { headers?: HttpHeaders };
      responseCache?: unknown;
    } & Record<string, unknown>;
    const headers: HttpHeaders = { ...http?.headers, ...(decision ? budgetHeaders(decision) : {}) };
    if (headers['ETag'] !== undefined && req.headers['if-none-match'] === headers['ETag']) {
      hits.notModified.inc();
      return send(res, 304, headers, '', started, operationName);
    }
    hits.ok.inc();
    const debug = config.NODE_ENV === 'development' || (viewer.user.role === 'ADMIN' && req.headers[CACHE_DEBUG_HEADER] === '1');
    if (debug) {
      const ttl = Number(/max-age=(\d+)/.exec(headers['Cache-Control'] ?? '')?.[1] ?? 0);
      extensions['cache'] = { hit: true, ttl };
    }
    // What yoga would send: the result without `extensions.http`.
    const body =
      cached.data && Object.keys(extensions).length === 0
        ? encodedBody(cached.data)
        : JSON.stringify({ data: cached.data, extensions: Object.keys(extensions).length > 0 ? extensions : undefined });
    headers['Content-Type'] = `${responseMediaType(req.headers.accept)}; charset=utf-8`;
    send(res, 200, headers, body, started, operationName);
  }

  function send(res: ServerResponse, status: number, headers: HttpHeaders, body: string | Buffer, started: number, operationName: string | undefined) {
    res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) }).end(body);
    logger.info(
      {
        method: res.req.method,
        path: endpoint,
        operationName,
        status,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        // Answered before the GraphQL pipeline: a cache hit, a 304, or a spent budget's 429.
        fastPath: true,
      },
      'request',
    );
  }

  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'the cached-response fast path failed; passing the request to yoga');
      if (!res.headersSent) fallback(req, res);
    });
  };
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** Only requests for JSON; SSE, multipart and other media types are negotiated by yoga. */
function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return /application\/(graphql-response\+)?json|\*\/\*/.test(accept) && !/text\/event-stream|multipart\/mixed/.test(accept);
}

/** The media type yoga answers with: the GraphQL one when the client lists it, else JSON. */
function responseMediaType(accept: string | undefined): string {
  return accept?.includes('application/graphql-response+json') ? 'application/graphql-response+json' : 'application/json';
}

/**
 * The text that defines the operation: the query string of a GET, the body of a JSON POST;
 * null for anything else (other paths, media types and methods).
 */
async function readSource(req: IncomingMessage, endpoint: string): Promise<string | null> {
  const url = req.url ?? '';
  const queryStart = url.indexOf('?');
  if ((queryStart === -1 ? url : url.slice(0, queryStart)) !== endpoint || !acceptsJson(req.headers.accept)) return null;
  if (req.method === 'GET') return queryStart === -1 ? null : url.slice(queryStart + 1);
  if (req.method !== 'POST' || !req.headers['content-type']?.startsWith('application/json')) return null;
  const body = await readBody(req);
  (req as IncomingMessage & { body?: Buffer }).body = body;
  return body.toString('utf8');
}

function getParams(search: string): Record<string, unknown> {
  const params = new URLSearchParams(search);
  return {
    query: params.get('query') ?? undefined,
    variables: params.has('variables') ? parseJson(params.get('variables')!) : undefined,
    operationName: params.get('operationName') ?? undefined,
    extensions: params.get('extensions') ?? undefined,
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function operationOf(params: unknown): Operation | null {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return null;
  const { query, variables, operationName, extensions } = params as Record<string, unknown>;
  // Persisted-query and other extensions change what is run: yoga's to handle.
  if (typeof query !== 'string' || extensions !== undefined) return null;
  if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return null;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return null;
  return {
    documentString: query,
    variableValues: (variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: operationName ?? undefined,
  };
}

/** What unparseable JSON reads as: no operation, and no variables either. */
const INVALID_JSON = Symbol('invalid JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return INVALID_JSON;
  }
}
