import { hash } from 'node:crypto';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { PersistedQueryStore } from '../cache/persisted-query-store.js';

export interface PersistedQueriesOptions {
  store: PersistedQueryStore;
  /** Longest query text registered, in bytes: a longer one is run, and not kept. */
  maxQueryBytes: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * Automatic persisted queries, Apollo's protocol: `extensions.persistedQuery` carries
 * `{ version: 1, sha256Hash }`. A hash alone is replaced by the text registered under it, before
 * any other plugin sees the operation, so admission prices it and the response cache keys it
 * exactly as the same operation sent whole (a GET with a short URL then gets hits and 304s). An
 * unknown hash is answered PERSISTED_QUERY_NOT_FOUND, and the client sends the text with its
 * hash: the text is run if the hash is its sha256 (else refused), and registered once it has
 * proved to be an operation that runs (it validated and was executed, or its response was
 * cached), so the store only ever holds texts that were admitted and ran.
 *
 * Not `@graphql-yoga/plugin-persisted-operations`: that plugin serves a fixed list of trusted
 * documents (it never registers anything), and answers every request without a query with
 * its own error.
 */
export function usePersistedQueries(options: PersistedQueriesOptions): Plugin {
  // By operation context (a batch's operations have one each): what to register once it has run.
  const registrations = new WeakMap<object, { sha256Hash: string; query: string }>();
  return {
    async onParams({ params, setParams, context }) {
      const sha256Hash = requestedHash(params.extensions);
      if (sha256Hash === null) return;
      if (typeof params.query === 'string') {
        if (hash('sha256', params.query, 'hex') !== sha256Hash) throw hashMismatch(sha256Hash);
        if (Buffer.byteLength(params.query) <= options.maxQueryBytes) registrations.set(context, { sha256Hash, query: params.query });
        return;
      }
      // A query that is not a string is yoga's to refuse.
      if (params.query != null) return;
      const query = await options.store.get(sha256Hash);
      if (query === null) throw notFound();
      setParams({ ...params, query });
    },
    async onExecutionResult({ result, context }) {
      const registration = registrations.get(context);
      if (!registration) return;
      registrations.delete(context);
      // Errors alone (no `data`): refused, or not a valid operation; nothing to keep.
      if (!result || (!isAsyncIterable(result) && result.data === undefined)) return;
      // Awaited: the client's next request, on any instance, finds it (the store never throws).
      await options.store.set(registration.sha256Hash, registration.query);
    },
  };
}

/** The hash `extensions.persistedQuery` names (lower-case hex); null without one; a refusal for one that is not Apollo's version 1. */
export function requestedHash(extensions: unknown): string | null {
  if (typeof extensions !== 'object' || extensions === null) return null;
  const persisted = (extensions as Record<string, unknown>)['persistedQuery'];
  if (persisted === undefined || persisted === null) return null;
  const { version, sha256Hash } = (typeof persisted === 'object' ? persisted : {}) as Record<string, unknown>;
  if (version !== 1) throw badPersistedQuery('extensions.persistedQuery.version must be 1.');
  if (typeof sha256Hash !== 'string' || !SHA256_HEX.test(sha256Hash.toLowerCase())) {
    throw badPersistedQuery('extensions.persistedQuery.sha256Hash must be the sha256 of the query, in hex (64 digits).');
  }
  return sha256Hash.toLowerCase();
}

/**
 * What Apollo's PersistedQueryLink waits for to send the query: 200 like Apollo Server, and
 * never kept by an HTTP cache (the next GET of this URL may well be answered).
 */
function notFound() {
  return createGraphQLError('PersistedQueryNotFound', {
    extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { headers: { 'Cache-Control': 'no-store' } } },
  });
}

function hashMismatch(sha256Hash: string) {
  return badPersistedQuery(`extensions.persistedQuery.sha256Hash (${sha256Hash}) is not the sha256 of the query sent with it: nothing was run or registered.`);
}

function badPersistedQuery(message: string) {
  return createGraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}
