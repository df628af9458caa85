import { pino, type Logger } from 'pino';
import type { Config } from '../config.js';

/** JSON lines on stdout; credentials are redacted wherever they might be logged. */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return pino({
    level: config.LOG_LEVEL,
    base: { service: 'recall', pid: process.pid },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token', 'variables.input.password'],
      censor: '[redacted]',
    },
  });
}
