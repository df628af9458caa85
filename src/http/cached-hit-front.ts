import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { rememberAdmission, type AdmissionControl, type PreparedOperation } from '../admission/admission.js';
import type { PersistedQueryStore } from '../cache/persisted-query-store.js';
import type { ResponseLookup, ResponseStore } from '../cache/response-store.js';
import { requestedHash } from '../plugins/use-persisted-queries.js';
import type { BoundCounter } from '../observability/bound-labels.js';
import type { AccessRecorder } from '../relevance/access-recorder.js';
import { isAdmin, responseCacheIdentity, type Viewer } from '../request-scope.js';
import { logRequest } from './access-log.js';
import {
  CACHE_DEBUG_HEADER,
  cacheDebugExtension,
  jsonMediaType,
  matchesIfNoneMatch,
  refusalReply,
  replyExtensions,
  responseCacheKey,
  resultBody,
  resultHeaders,
  showsCacheDebug,
  withExtensions,
} from './reply.js';
import { requestHeader as header, type RequestListener } from './server.js';

const MAX_MEMOISED_SOURCE = 4_096;

/** Requests the front looked up and missed, by their key: yoga does not look them up again. */
const missed = new WeakMap<object, string>();

/** The key under which the front already missed this request (its `req`), if it did. */
export const missedByFront = (req: object | undefined): string | undefined => (req ? missed.get(req) : undefined);

export interface CachedHitFrontOptions {
  admission: AdmissionControl;
  responses: ResponseStore;
  /** Where automatic persisted queries are registered: a known hash is served like its text. */
  persistedQueries: PersistedQueryStore;
  accessRecorder: AccessRecorder;
  /** The GraphQL endpoint, e.g. /graphql. */
  endpoint: string;
  responseCacheEnabled: boolean;
  /** Development mode: the cache metadata is shown to everyone. */
  development: boolean;
  /** Counts the hits answered here, by status (200 or 304). */
  hits: { bind(labels: { status: string }): BoundCounter };
  logger: Logger;
}

/**
 * Answers cache hits before yoga's request pipeline, which costs several times what a hit itself
 * does. It takes the steps any request takes, through the same modules: admission (token,
 * address, budget, read position; a refusal is answered here), the response-cache key, the
 * store, and the reply (ETag and 304, Cache-Control, media type, body). Everything else goes to
 * yoga, with the admission attached so it is not made twice: misses, anonymous callers,
 * mutations (never cached), subscriptions and anything it does not recognise. A request body it
 * has read is passed on as `req.body`, which yoga's node adapter uses in place of the stream.
 */
export function createCachedHitFront(options: CachedHitFrontOptions, fallback: RequestListener): RequestListener {
  const { responses, logger, endpoint } = options;
  const hits = { ok: options.hits.bind({ status: '200' }), notModified: options.hits.bind({ status: '304' }) };

  // Results kept in process are shared objects: each is serialised once, and a hit without
  // extensions (the usual case outside development) is the same bytes every time.
  const encoded = new WeakMap<object, Buffer>();
  const encodedBody = (result: ExecutionResult): Buffer => {
    let bytes = encoded.get(result);
    if (!bytes) {
      bytes = Buffer.from(resultBody(result));
      encoded.set(result, bytes);
    }
    return bytes;
  };

  // Recent (viewer, request text) pairs and their keys: a repeated request skips parsing and
  // hashing. Small requests only, so the memo stays small (at most ~40 MB).
  const keys = new LRUCache<string, { key: string; operationName: string | undefined }>({ max: 10_000 });

  // Recent request texts, read and prepared for admission (cost, variables checked): a repeated
  // request skips parsing its JSON and costing its document. Small requests only, as above.
  type Prepared = { operation: Operation; admission: PreparedOperation };
  const operations = new LRUCache<string, Prepared>({ max: 10_000 });
  /** The memoised preparation of a request text, else a promise of it (a persisted query's text may have to be looked up). */
  function prepare(source: string, isGet: boolean): Prepared | Promise<Prepared | null> {
    // A query string and a JSON body are read differently, even were their texts the same.
    const memo = `${isGet ? 'GET' : 'POST'} ${source}`;
    return operations.get(memo) ?? prepareAnew(source, isGet, memo);
  }

  async function prepareAnew(source: string, isGet: boolean, memo: string): Promise<Prepared | null> {
    const params = isGet ? getParams(source) : parseJson(source);
    // A hash names one text forever: once found, it is memoised like a text sent whole.
    const operation = operationOf(params) ?? (await persistedOperationOf(params));
    if (!operation) return null;
    const prepared = { query: operation.documentString, variables: operation.variableValues, operationName: operation.operationName };
    const known = { operation, admission: options.admission.prepare(prepared) };
    if (source.length <= MAX_MEMOISED_SOURCE) operations.set(memo, known);
    return known;
  }

  /**
   * The operation an automatic persisted query names when its text is registered; null for
   * anything else (a hash with its text, which registers it; an unknown or malformed hash), which
   * yoga answers.
   */
  async function persistedOperationOf(params: unknown): Promise<Operation | null> {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) return null;
    const { query, extensions, ...rest } = params as Record<string, unknown>;
    if (query !== undefined) return null;
    let sha256Hash: string | null;
    try {
      const parsed = typeof extensions === 'string' ? parseJson(extensions) : extensions;
      if (typeof parsed !== 'object' || parsed === null || Object.keys(parsed).length !== 1) return null;
      sha256Hash = requestedHash(parsed);
    } catch {
      return null;
    }
    const text = sha256Hash === null ? null : await options.persistedQueries.get(sha256Hash);
    return text === null ? null : operationOf({ ...rest, query: text });
  }

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = performance.now();
    const mediaType = jsonMediaType(req.headers.accept);
    const source = mediaType === null ? null : await readSource(req, endpoint);
    if (source === null || !options.responseCacheEnabled) return fallback(req, res);
    const preparing = prepare(source, req.method === 'GET');
    // A repeated request (the usual hit) is prepared already: no turn of the event loop is spent waiting.
    const prepared = preparing instanceof Promise ? await preparing : preparing;
    // What it does not recognise (an unknown persisted query, invalid JSON) is yoga's to admit and answer.
    if (!prepared) return fallback(req, res);
    const { operation } = prepared;
    /** The key of this request for a viewer, memoised for a repeated request. */
    const keyFor = (viewer: Viewer) => {
      const identity = responseCacheIdentity(viewer);
      const memo = `${identity}\n${req.method} ${source}`;
      let known = keys.get(memo);
      if (!known) {
        known = { key: responseCacheKey({ ...operation, sessionId: identity }), operationName: operation.operationName ?? undefined };
        if (source.length <= MAX_MEMOISED_SOURCE) keys.set(memo, known);
      }
      return known;
    };
    // The store's read that needs no read position goes alongside the budget's round trip.
    const early: { key?: string; lookup?: ResponseLookup } = {};
    const admission = await options.admission.admit(
      {
        authorization: req.headers.authorization ?? null,
        forwardedFor: header(req, 'x-forwarded-for'),
        socketAddress: req.socket.remoteAddress,
      },
      prepared.admission,
      (viewer) => {
        if (!viewer) return;
        early.key = keyFor(viewer).key;
        early.lookup = responses.begin(early.key);
      },
    );
    if (admission.refusal) {
      const reply = refusalReply(admission.refusal, req.headers.accept);
      return send(res, reply.status, reply.headers, reply.body, startedAt, undefined, null);
    }
    const admitted = admission.admitted;
    // yoga answers what this does not, with this admission (the budget is spent once).
    const toYoga = () => {
      rememberAdmission(req, admitted);
      fallback(req, res);
    };
    const viewer = admitted.viewer;
    // Anonymous callers see nothing that is cached, and a refused call must be answered null.
    if (!viewer || admitted.allowances?.refusedSome) return toYoga();

    const known = keyFor(viewer);
    // A viewer looked up again (its credential changed meanwhile) may have another key.
    const lookup = early.lookup && early.key === known.key ? early.lookup : responses.begin(known.key);
    const hit = await lookup(admitted.read);
    if (!hit) {
      missed.set(req, known.key);
      return toYoga();
    }
    options.accessRecorder.record(viewer.user.id, hit.retrieved);

    const headers = resultHeaders({ etag: hit.etag, kept: true, budget: admitted.budget });
    if (matchesIfNoneMatch(req.headers['if-none-match'], hit.etag)) {
      hits.notModified.inc();
      return send(res, 304, headers, '', startedAt, known.operationName, viewer);
    }
    hits.ok.inc();
    const debug = showsCacheDebug({
      development: options.development,
      isAdmin: isAdmin(viewer),
      debugHeader: header(req, CACHE_DEBUG_HEADER),
    });
    const extensions = replyExtensions(admitted.budget);
    const body = debug
      ? resultBody(hit.result, { ...extensions, ...cacheDebugExtension(true, hit.maxAgeSeconds) })
      : withExtensions(encodedBody(hit.result), extensions);
    headers['Content-Type'] = `${mediaType}; charset=utf-8`;
    send(res, 200, headers, body, startedAt, known.operationName, viewer);
  }

  function send(
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: string | Buffer,
    startedAt: number,
    operationName: string | undefined,
    viewer: Viewer | null,
  ) {
    // The headers are this reply's own (made for it): completed in place, not copied.
    headers['Content-Length'] = String(Buffer.byteLength(body));
    res.writeHead(status, headers).end(body);
    logRequest(logger, { method: res.req.method ?? 'GET', path: endpoint, operationName, status, startedAt, front: true, apiKey: viewer?.apiKey?.prefix });
  }

  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'the cached-hit front failed; passing the request to yoga');
      if (!res.headersSent) fallback(req, res);
    });
  };
}

/**
 * The text that defines the operation: the query string of a GET, the body of a JSON POST;
 * null for anything else (other paths and methods).
 */
async function readSource(req: IncomingMessage, endpoint: string): Promise<string | null> {
  const url = req.url ?? '';
  const queryStart = url.indexOf('?');
  if ((queryStart === -1 ? url : url.slice(0, queryStart)) !== endpoint) return null;
  // A GET with neither a query nor a persisted query's hash is GraphiQL's page, or not an operation: yoga's to answer.
  if (req.method === 'GET') {
    if (queryStart === -1) return null;
    const search = new URLSearchParams(url.slice(queryStart + 1));
    return search.has('query') || search.has('extensions') ? url.slice(queryStart + 1) : null;
  }
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

interface Operation {
  documentString: string;
  variableValues: Record<string, unknown> | undefined;
  operationName: string | undefined;
}

function operationOf(params: unknown): Operation | null {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return null;
  const { query, variables, operationName, extensions } = params as Record<string, unknown>;
  // Extensions may change what is run (a persisted query's text is `persistedOperationOf`'s): yoga's to handle.
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
