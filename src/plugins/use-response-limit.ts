import type { ExecutionResult } from 'graphql';
import { handleStreamOrSingleExecutionResult, type Plugin } from 'graphql-yoga';
import { responseTooLarge } from '../admission/refusal.js';
import { refusalError } from '../http/reply.js';
import { jsonBytesBound } from '../json-bytes.js';

export interface ResponseLimitOptions {
  /** Largest result sent, in bytes of JSON (MAX_RESPONSE_BYTES). */
  maxBytes: number;
}

/**
 * Replaces a result larger than `maxBytes` with a RESPONSE_TOO_LARGE error, whatever carries it
 * (JSON, SSE, multipart, WebSocket; each event of a subscription), before the response cache
 * or the reply serialises it again. A result too large for a JavaScript string at all (yoga's
 * "Invalid string length") counts as too large, never as a 500.
 */
export function useResponseLimit({ maxBytes }: ResponseLimitOptions): Plugin {
  const limit = ({ result, setResult }: { result: ExecutionResult; setResult(result: ExecutionResult): void }) => {
    // Most results are far under the limit: a bound tells so without a second serialisation.
    if (jsonBytesBound(result, maxBytes) <= maxBytes) return;
    let bytes: number;
    try {
      bytes = Buffer.byteLength(JSON.stringify(result));
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      bytes = Number.POSITIVE_INFINITY;
    }
    if (bytes > maxBytes) setResult({ errors: [refusalError(responseTooLarge(bytes, maxBytes), { overHttp: true })] });
  };
  return {
    onExecute: () => ({ onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, limit) }),
    onSubscribe: () => ({ onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, limit) }),
  };
}
