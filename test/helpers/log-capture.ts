/**
 * A real pino logger (the server's own `createLogger`) whose JSON lines are kept in memory, for tests
 * that check what the server logs.
 */
import { createLogger, type Logger } from '../../src/logger.js';

export interface CapturedLog {
  logger: Logger;
  /** Every line written so far, raw. */
  text(): string;
  /** Every line, parsed. */
  lines(): Record<string, unknown>[];
  /** Lines with this `msg` (exact, or a pattern). */
  find(msg: string | RegExp): Record<string, unknown>[];
}

/** A logger at `level` (default `debug`) that keeps what it writes. */
export function captureLog(level: Parameters<typeof createLogger>[0] = 'debug'): CapturedLog {
  let out = '';
  const logger = createLogger(level, { write: (s: string) => (out += s) } as unknown as NodeJS.WritableStream);
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    logger,
    text: () => out,
    lines,
    find: (msg) => lines().filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg)))),
  };
}
