/**
 * Relevance of a memory, from 0 to 1: a weighted sum of four factors, each from 0 to 1.
 * Pure, so that search and `Memory.relevance` rank with exactly the same formula.
 */

export interface ScoreWeights {
  textRelevance: number;
  recency: number;
  importance: number;
  accessFrequency: number;
}

export type ScoreBreakdown = ScoreWeights & { weights: ScoreWeights };

export interface RelevanceFactors {
  /** Raw `ts_rank_cd` of the memory against the query words (0 when nothing matches). */
  textRank: number;
  /** Time since the memory was last written. */
  ageMs: number;
  importance: number;
  /** How many times the viewer retrieved the memory. */
  accessCount: number;
}

/** Text dominates; the other factors order memories that match about equally well. */
export const SCORE_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({
  textRelevance: 0.55,
  recency: 0.2,
  importance: 0.15,
  accessFrequency: 0.1,
});

/** A raw cover-density rank at which text relevance reaches one half. */
const TEXT_RANK_HALF = 0.1;
/** The access count at which access frequency reaches one half. */
const ACCESS_COUNT_HALF = 5;

const saturate = (value: number, half: number): number => (value <= 0 ? 0 : value / (value + half));
const clamp01 = (value: number): number => Math.min(1, Math.max(0, value));

export function scoreRelevance(
  factors: RelevanceFactors,
  recencyHalfLifeHours: number,
): { score: number; breakdown: ScoreBreakdown } {
  const parts: ScoreWeights = {
    textRelevance: saturate(factors.textRank, TEXT_RANK_HALF),
    recency: clamp01(0.5 ** (Math.max(0, factors.ageMs) / (recencyHalfLifeHours * 3_600_000))),
    importance: clamp01(factors.importance),
    accessFrequency: saturate(factors.accessCount, ACCESS_COUNT_HALF),
  };
  const score =
    parts.textRelevance * SCORE_WEIGHTS.textRelevance +
    parts.recency * SCORE_WEIGHTS.recency +
    parts.importance * SCORE_WEIGHTS.importance +
    parts.accessFrequency * SCORE_WEIGHTS.accessFrequency;
  return { score: clamp01(score), breakdown: { ...parts, weights: SCORE_WEIGHTS } };
}

/** The factors of a stored memory as seen at `now`. */
export function factorsAt(
  row: { textRank: number; updatedAt: Date; importance: number; accessCount: number },
  now: Date,
): RelevanceFactors {
  return {
    textRank: row.textRank,
    ageMs: now.getTime() - row.updatedAt.getTime(),
    importance: row.importance,
    accessCount: row.accessCount,
  };
}
