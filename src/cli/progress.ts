import { SingleBar } from 'cli-progress';
import type { OnProgress } from '../cache/key-scan.js';

export interface Progress {
  onProgress: OnProgress;
  stop(): void;
}

/**
 * A progress bar for a scan, drawn on stderr (stdout is the command's answer), only for a person
 * at a terminal: off with --json and when stderr is not a TTY. `total` is the database's key
 * count (DBSIZE), an upper bound: the scan covers only the prefix.
 */
export function scanProgress(options: { enabled: boolean; total: number; label: string }): Progress {
  if (!options.enabled || !process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    stream: process.stderr,
    format: `${options.label} [{bar}] {value} keys looked at, of {total} in the database`,
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(Math.max(1, options.total), 0);
  return {
    onProgress: (scanned) => bar.update(Math.min(scanned, options.total)),
    stop: () => bar.stop(),
  };
}
