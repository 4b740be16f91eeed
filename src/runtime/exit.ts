/**
 * How the command line fails: one line on stderr, exit code 2 for usage and configuration errors
 * (the user must change something), 1 for everything else.
 */
import { ConfigError } from '../config/errors.js';

/** A usage error that is not about the config (e.g. hash-password got an empty password). */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_USAGE = 2;
export const EXIT_FAILURE = 1;

export function exitCodeOf(err: unknown): number {
  return err instanceof ConfigError || err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}

/** One line, whatever the error looked like. */
export function oneLine(text: string): string {
  return text.trim().replace(/\s*[\r\n]+\s*/g, ' ');
}

export function reportError(err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${oneLine(message)}\n`);
}
