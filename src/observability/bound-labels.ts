import { Counter, type CounterConfiguration, type Histogram, type LabelValues } from 'prom-client';

/** A counter's child for one set of label values. */
export interface BoundCounter {
  inc(value?: number): void;
}

export type HotCounter<T extends string> = Counter<T> & {
  /** The child for these label values, to make once (at set-up, or on first use) and keep. */
  bind(labels: LabelValues<T>): BoundCounter;
};

/**
 * A counter for the hot path. prom-client's `inc(labels)`, and the children its `labels()`
 * returns, build a string from the label object, check it and look it up on every call; on a
 * cached hit that is paid several times per request. A child from `bind` counts in a plain
 * number instead, added to the counter whenever it is collected (a scrape, a `get()`), so every
 * value read is exact.
 */
export function createHotCounter<T extends string>(config: CounterConfiguration<T>): HotCounter<T> {
  const children: Array<{ labels: LabelValues<T>; pending: number }> = [];
  const counter = new Counter<T>({
    ...config,
    collect() {
      for (const child of children) {
        if (child.pending === 0) continue;
        counter.inc(child.labels, child.pending);
        child.pending = 0;
      }
    },
  });
  return Object.assign(counter, {
    bind(labels: LabelValues<T>): BoundCounter {
      const child = {
        labels,
        pending: 0,
        inc(value = 1) {
          child.pending += value;
        },
      };
      children.push(child);
      return child;
    },
  });
}

/** A histogram's child for one set of label values: the label object is made once, not per observation. */
export function bindHistogram<T extends string>(histogram: Histogram<T>, labels: LabelValues<T>): { observe(seconds: number): void } {
  return { observe: (seconds) => histogram.observe(labels, seconds) };
}
