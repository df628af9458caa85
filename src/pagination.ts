import { z } from 'zod';
import type { Config } from './config.js';
import { clientError } from './errors.js';
import { isId, type IdKind } from './ids.js';

export interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Edge<Node> {
  cursor: string;
  node: Node;
}

/** `first` as a page size: the default when left out, an error outside 0..MAX_PAGE_SIZE. */
export function pageSize(first: number | null | undefined, config: Config): number {
  if (first === null || first === undefined) return config.DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > config.MAX_PAGE_SIZE) {
    throw clientError('BAD_USER_INPUT', `first must be between 0 and ${config.MAX_PAGE_SIZE}.`, {
      field: ['first'],
    });
  }
  return first;
}

/** Cursors are opaque to clients: base64url of a small JSON array. */
export function encodeCursor(parts: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/**
 * An instant (ms since 1970) read from a cursor: a forged one must not reach PostgreSQL as a time
 * it cannot store (or JavaScript as an invalid Date), so only years 1970 to 9999 pass.
 */
export const cursorInstant = z.number().int().min(0).max(Date.UTC(9999, 11, 31, 23, 59, 59, 999));

/** Decodes a cursor of the given shape; anything else (forged, foreign, out of range) is BAD_USER_INPUT on `after`. */
export function decodeCursor<T>(cursor: string, shape: z.ZodType<T>): T {
  try {
    return shape.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw clientError('BAD_USER_INPUT', 'after is not a cursor returned by this connection.', { field: ['after'] });
  }
}

/** The id an id-ordered page starts after, checked to be of the right kind. */
export function afterId(after: string | null | undefined, kind: IdKind): string | null {
  if (after === null || after === undefined) return null;
  return decodeCursor(after, z.tuple([z.string().refine((id) => isId(id, kind))]))[0];
}

/** Builds a forward page from up to `limit + 1` rows (the extra one only tells that more exist). */
export function toConnection<Node>(
  rows: readonly Node[],
  limit: number,
  cursorOf: (row: Node) => string,
): { edges: Array<Edge<Node>>; pageInfo: PageInfo } {
  // Cursors are encoded only when a query selects them: most reads of a list never do.
  const edges = rows.slice(0, limit).map(
    (node): Edge<Node> => ({
      node,
      get cursor() {
        return cursorOf(node);
      },
    }),
  );
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: false,
      get startCursor() {
        return edges[0]?.cursor ?? null;
      },
      get endCursor() {
        return edges.at(-1)?.cursor ?? null;
      },
    },
  };
}

export const idCursor = (row: { id: string }): string => encodeCursor([row.id]);
