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

/** Identifies a score for clients' normalized caches: it differs per viewer, context and memory. */
export function relevanceScoreId(userId: string, contextId: string, memoryId: string): string {
  return Buffer.from(`RelevanceScore:${userId}:${contextId}:${memoryId}`).toString('base64url');
}
