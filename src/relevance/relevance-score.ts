import { isId } from '../ids.js';
import type { ScoreBreakdown } from './score-params.js';

/** A memory's relevance to a context, for one viewer (access frequency is per viewer). */
export interface RelevanceScoreModel {
  id: string;
  userId: string;
  contextId: string;
  memoryId: string;
  /** The versions of the memory and the context this score was computed from. */
  memoryVersion: number;
  contextVersion: number;
  score: number;
  breakdown: ScoreBreakdown;
  computedAt: Date;
}

const SCORE_ID = 'RelevanceScore';

/**
 * Identifies a score for clients' normalized caches and for `node(id)`: it differs per viewer,
 * context and memory, and is no id of any other type (those are `<kind>_…`).
 */
export function relevanceScoreId(userId: string, contextId: string, memoryId: string): string {
  return Buffer.from(`${SCORE_ID}:${userId}:${contextId}:${memoryId}`).toString('base64url');
}

/** What a score id names; null for anything that is not one. */
export function parseRelevanceScoreId(id: string): { userId: string; contextId: string; memoryId: string } | null {
  const [prefix, userId, contextId, memoryId, ...rest] = Buffer.from(id, 'base64url').toString('utf8').split(':');
  const named = prefix === SCORE_ID && rest.length === 0 && userId && contextId && memoryId;
  if (!named || !isId(userId, 'usr') || !isId(contextId, 'ctx') || !isId(memoryId, 'mem')) return null;
  // base64url decoding is lenient: only the canonical spelling names the score.
  return relevanceScoreId(userId, contextId, memoryId) === id ? { userId, contextId, memoryId } : null;
}
