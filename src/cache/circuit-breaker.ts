import type { Logger } from 'pino';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** While open, how often `probe` runs. */
  probeIntervalMs: number;
  /** Resolves when the dependency answers again; runs only while the circuit is open. */
  probe(): Promise<void>;
  onChange?(open: boolean): void;
  logger: Logger;
}

/**
 * Skips a failing dependency: after `failureThreshold` consecutive failures calls are refused
 * at once (no timeouts to wait out), a probe retries in the background, and the circuit closes
 * on its own when the dependency answers.
 */
export function createCircuitBreaker(options: CircuitBreakerOptions) {
  let failures = 0;
  let open = false;
  let timer: NodeJS.Timeout | undefined;
  let probing = false;

  const close = () => {
    open = false;
    failures = 0;
    clearInterval(timer);
    timer = undefined;
    options.onChange?.(false);
    options.logger.info('circuit closed: using the dependency again');
  };

  const probeOnce = async () => {
    if (probing) return;
    probing = true;
    try {
      await options.probe();
      close();
    } catch {
      // Still down: the next probe tries again.
    } finally {
      probing = false;
    }
  };

  return {
    get isOpen() {
      return open;
    },
    success() {
      failures = 0;
    },
    failure() {
      failures += 1;
      if (open || failures < options.failureThreshold) return;
      open = true;
      options.onChange?.(true);
      options.logger.warn({ failures }, 'circuit opened: skipping the dependency until it answers');
      timer = setInterval(() => void probeOnce(), options.probeIntervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}

export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;
