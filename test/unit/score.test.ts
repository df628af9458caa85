import { describe, expect, it } from 'vitest';
import { SCORE_WEIGHTS, scoreRelevance } from '../../src/relevance/score.js';

const HALF_LIFE_HOURS = 168;
const base = { textRank: 0.1, ageMs: 0, importance: 0.5, accessCount: 0 };

describe('scoreRelevance', () => {
  it('weights sum to 1, so scores stay within 0..1', () => {
    const total = Object.values(SCORE_WEIGHTS).reduce((sum, weight) => sum + weight, 0);
    expect(total).toBeCloseTo(1, 12);
    expect(scoreRelevance({ textRank: 1e9, ageMs: 0, importance: 1, accessCount: 1e9 }, HALF_LIFE_HOURS).score).toBeLessThanOrEqual(1);
    expect(scoreRelevance({ textRank: 0, ageMs: 1e15, importance: 0, accessCount: 0 }, HALF_LIFE_HOURS).score).toBeGreaterThanOrEqual(0);
  });

  it('halves recency every half-life', () => {
    const week = HALF_LIFE_HOURS * 3_600_000;
    expect(scoreRelevance({ ...base, ageMs: week }, HALF_LIFE_HOURS).breakdown.recency).toBeCloseTo(0.5, 12);
    expect(scoreRelevance({ ...base, ageMs: 2 * week }, HALF_LIFE_HOURS).breakdown.recency).toBeCloseTo(0.25, 12);
    expect(scoreRelevance({ ...base, ageMs: -1000 }, HALF_LIFE_HOURS).breakdown.recency).toBe(1);
  });

  it('grows with each factor', () => {
    const score = (changes: Partial<typeof base>) => scoreRelevance({ ...base, ...changes }, HALF_LIFE_HOURS).score;
    expect(score({ textRank: 0.3 })).toBeGreaterThan(score({}));
    expect(score({ importance: 0.9 })).toBeGreaterThan(score({}));
    expect(score({ accessCount: 3 })).toBeGreaterThan(score({}));
    expect(score({ ageMs: 3_600_000 })).toBeLessThan(score({}));
  });

  it('saturates text rank and access count at one half at their midpoints', () => {
    const { breakdown } = scoreRelevance({ ...base, textRank: 0.1, accessCount: 5 }, HALF_LIFE_HOURS);
    expect(breakdown.textRelevance).toBeCloseTo(0.5, 12);
    expect(breakdown.accessFrequency).toBeCloseTo(0.5, 12);
    expect(scoreRelevance({ ...base, textRank: 0 }, HALF_LIFE_HOURS).breakdown.textRelevance).toBe(0);
  });
});
