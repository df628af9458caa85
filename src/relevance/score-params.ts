import type { ScoreColumns } from '../db/repositories/relevance.js';

/**
 * The numbers of the relevance formula (its shape is SQL: `recall_relevance` in the first
 * migration). A score is the weighted sum of four parts from 0 to 1, so it is 0..1 too.
 */

export interface ScoreWeights {
  textRelevance: number;
  recency: number;
  importance: number;
  accessFrequency: number;
}

export type ScoreBreakdown = ScoreWeights & { weights: ScoreWeights };

/** Text dominates; the other factors order memories that match about equally well. */
export const SCORE_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({
  textRelevance: 0.55,
  recency: 0.2,
  importance: 0.15,
  accessFrequency: 0.1,
});

/** The raw cover-density rank at which text relevance reaches one half. */
const TEXT_RANK_MIDPOINT = 0.1;
/** The retrieval count at which access frequency reaches one half. */
const ACCESS_COUNT_MIDPOINT = 5;

/** The `p` array of `recall_relevance`. */
export function scoreParams(recencyHalfLifeHours: number): number[] {
  return [
    recencyHalfLifeHours * 3_600_000,
    TEXT_RANK_MIDPOINT,
    ACCESS_COUNT_MIDPOINT,
    SCORE_WEIGHTS.textRelevance,
    SCORE_WEIGHTS.recency,
    SCORE_WEIGHTS.importance,
    SCORE_WEIGHTS.accessFrequency,
  ];
}

/** The parts of a score as the database returns them, with the weights that combined them. */
export function breakdownOf(row: ScoreColumns): ScoreBreakdown {
  return {
    textRelevance: row.scoreText,
    recency: row.scoreRecency,
    importance: row.scoreImportance,
    accessFrequency: row.scoreAccess,
    weights: SCORE_WEIGHTS,
  };
}
