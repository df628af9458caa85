import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCORE_WEIGHTS, scoreParams } from '../../src/relevance/score-params.js';
import { backends, createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { weightedSum } from '../helpers/weighted-sum.js';

const HOUR = 3_600_000;
const HALF_LIFE_HOURS = 168;

interface Parts {
  text_relevance: number;
  recency: number;
  importance: number;
  access_frequency: number;
  score: number;
}

/** The formula itself, `recall_relevance`, evaluated by the database it lives in. */
describe.each(backends())('recall_relevance on %s', (backend) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(() => database.drop());

  const score = async (textRank: number, ageMs: number, importance: number, accessCount: number) => {
    const [row] = await database.db.query<Parts>('SELECT * FROM recall_relevance($1, $2, $3, $4, $5::float8[])', [
      textRank,
      ageMs,
      importance,
      accessCount,
      scoreParams(HALF_LIFE_HOURS),
    ]);
    return row!;
  };

  it('is the weighted sum of its parts, and weights sum to 1', async () => {
    const parts = await score(0.3, 5 * HOUR, 0.7, 3);
    const named = {
      textRelevance: parts.text_relevance,
      recency: parts.recency,
      importance: parts.importance,
      accessFrequency: parts.access_frequency,
    };
    expect(parts.score).toBeCloseTo(weightedSum(named, SCORE_WEIGHTS), 12);
    expect(Object.values(SCORE_WEIGHTS).reduce((total, weight) => total + weight, 0)).toBeCloseTo(1, 12);
  });

  it('halves recency every half-life, and never fails on very old memories', async () => {
    expect((await score(0, HALF_LIFE_HOURS * HOUR, 0, 0)).recency).toBeCloseTo(0.5, 12);
    expect((await score(0, 2 * HALF_LIFE_HOURS * HOUR, 0, 0)).recency).toBeCloseTo(0.25, 12);
    expect((await score(0, -HOUR, 0, 0)).recency).toBe(1);
    expect((await score(0, 1e15, 0, 0)).recency).toBeLessThan(1e-300);
  });

  it('saturates text rank and access count at one half at their midpoints, and stays within 0..1', async () => {
    const mid = await score(0.1, 0, 0.5, 5);
    expect(mid.text_relevance).toBeCloseTo(0.5, 12);
    expect(mid.access_frequency).toBeCloseTo(0.5, 12);
    expect((await score(0, 0, 0.5, 0)).text_relevance).toBe(0);
    expect((await score(1e9, 0, 1, 1e9)).score).toBeLessThanOrEqual(1);
    expect((await score(0, 1e15, 0, 0)).score).toBeGreaterThanOrEqual(0);
  });

  it('grows with each factor', async () => {
    const base = (await score(0.1, HOUR, 0.5, 1)).score;
    expect((await score(0.3, HOUR, 0.5, 1)).score).toBeGreaterThan(base);
    expect((await score(0.1, HOUR, 0.9, 1)).score).toBeGreaterThan(base);
    expect((await score(0.1, HOUR, 0.5, 4)).score).toBeGreaterThan(base);
    expect((await score(0.1, 100 * HOUR, 0.5, 1)).score).toBeLessThan(base);
  });
});
