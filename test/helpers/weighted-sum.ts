import type { ScoreWeights } from '../../src/relevance/score-params.js';

/** What a relevance score must equal: its parts, each times its weight. */
export function weightedSum(parts: ScoreWeights, weights: ScoreWeights): number {
  return (
    parts.textRelevance * weights.textRelevance +
    parts.recency * weights.recency +
    parts.importance * weights.importance +
    parts.accessFrequency * weights.accessFrequency
  );
}
