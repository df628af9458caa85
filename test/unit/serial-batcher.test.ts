import { describe, expect, it, vi } from 'vitest';
import { createSerialBatcher } from '../../src/serial-batcher.js';

/** A `send` that records each batch and answers it when the test says so. */
function manualSend() {
  const batches: Array<{ inputs: number[]; answer(): void; fail(error: Error): void }> = [];
  const send = (inputs: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push({ inputs, answer: () => resolve(inputs.map((input) => `#${input}`)), fail: reject });
    });
  return { batches, send };
}

describe('serial batcher', () => {
  it('sends a lone call at once, and the calls made meanwhile together next, in order and at most maxBatch at a time', async () => {
    const { batches, send } = manualSend();
    const call = createSerialBatcher(send, { maxBatch: 3, timeoutMs: 60_000 });
    const first = call(1);
    expect(batches.map((batch) => batch.inputs)).toEqual([[1]]);
    const rest = [2, 3, 4, 5].map((input) => call(input));
    // One batch in flight at a time: the others wait for it.
    expect(batches).toHaveLength(1);
    batches[0]!.answer();
    expect(await first).toBe('#1');
    expect(batches.map((batch) => batch.inputs)).toEqual([[1], [2, 3, 4]]);
    batches[1]!.answer();
    await Promise.resolve();
    expect(batches.map((batch) => batch.inputs)).toEqual([[1], [2, 3, 4], [5]]);
    batches[2]!.answer();
    expect(await Promise.all(rest)).toEqual(['#2', '#3', '#4', '#5']);
  });

  it("fails a failed batch's calls with its error, and still sends the calls queued behind it", async () => {
    const { batches, send } = manualSend();
    const call = createSerialBatcher(send, { maxBatch: 10, timeoutMs: 60_000 });
    const failed = call(1);
    const queued = call(2);
    batches[0]!.fail(new Error('timed out'));
    await expect(failed).rejects.toThrow('timed out');
    batches[1]!.answer();
    expect(await queued).toBe('#2');
  });

  it('fails a queued call that has waited timeoutMs, even while its batch is still unanswered', async () => {
    vi.useFakeTimers();
    try {
      const { batches, send } = manualSend();
      const call = createSerialBatcher(send, { maxBatch: 10, timeoutMs: 100 });
      const first = call(1);
      const queued = call(2);
      queued.catch(() => undefined);
      vi.advanceTimersByTime(60);
      batches[0]!.answer();
      expect(await first).toBe('#1');
      // Sent after waiting 60 ms: 40 ms are left to it.
      expect(batches.map((batch) => batch.inputs)).toEqual([[1], [2]]);
      vi.advanceTimersByTime(41);
      await expect(queued).rejects.toThrow('no answer within 100 ms');
    } finally {
      vi.useRealTimers();
    }
  });
});
