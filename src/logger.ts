/**
 * The logging seam: the subset of pino's API that ftpsd uses, so embedders can pass their own pino
 * logger (or anything shaped like it). Passwords never reach a logger: PASS arguments are redacted by
 * the dispatcher.
 */
import { pino } from 'pino';

/** The logger ftpsd writes to: pino's API (a pino logger fits). */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** Field names that are censored wherever they appear (a second line of defence: nothing logs them). */
export const REDACTED_FIELDS = ['password', 'pass', '*.password', '*.pass'];

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACTED_FIELDS, censor: '***' } },
    destination as never,
  );
}

/**
 * Whether `log` writes lines of `level`: lets hot paths skip building the fields of a line nobody
 * writes (pino's `isLevelEnabled`; a logger without it is asked to log, as before).
 */
export function logs(log: Logger, level: LogLevel): boolean {
  const check = (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled;
  return typeof check === 'function' ? check.call(log, level) : true;
}

/** A logger that drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });
