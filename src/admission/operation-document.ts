import { parse, type DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** The parameters of one GraphQL operation, as any transport received them. */
export interface OperationParams {
  query?: string | null | undefined;
  variables?: Record<string, unknown> | null | undefined;
  operationName?: string | null | undefined;
}

/** Parsed documents kept for repeated requests: at most this many characters of source in all. */
const MEMO_CHARACTERS = 8_000_000;

/**
 * Parses documents for costing, keeping recent ones: clients send the same few documents again
 * and again, so a repeated one costs a lookup. A document that does not parse is null (and
 * remembered as such); yoga's parser then reports why.
 */
export function createDocumentMemo(maxTokens: number) {
  const documents = new LRUCache<string, { document: DocumentNode | null }>({
    maxSize: MEMO_CHARACTERS,
    sizeCalculation: (_value, source) => Math.max(1, source.length),
  });
  return {
    parse(source: string): DocumentNode | null {
      let known = documents.get(source);
      if (!known) {
        try {
          known = { document: parse(source, { noLocation: true, maxTokens }) };
        } catch {
          known = { document: null };
        }
        if (source.length <= MEMO_CHARACTERS / 100) documents.set(source, known);
      }
      return known.document;
    },
  };
}
