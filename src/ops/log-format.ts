/**
 * Log output formats. `json` is pino's own: one JSON object per line. `pretty` is a compact line for
 * people at a terminal, made by a destination stream that rewrites each JSON line pino writes:
 *
 *   2026-11-28 14:03:11.123 INFO  login  sid=Xy3k_a user=alice peer=127.0.0.1 secure=true
 *
 * Values are written bare when they are plain words, else as JSON strings (so a file name with a
 * newline or an escape sequence cannot forge a line or drive the terminal). Colours only on a TTY,
 * and never with NO_COLOR set.
 */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const LEVELS: Record<number, { name: string; colour: string }> = {
  10: { name: 'TRACE', colour: '\x1b[90m' },
  20: { name: 'DEBUG', colour: '\x1b[36m' },
  30: { name: 'INFO ', colour: '\x1b[32m' },
  40: { name: 'WARN ', colour: '\x1b[33m' },
  50: { name: 'ERROR', colour: '\x1b[31m' },
  60: { name: 'FATAL', colour: '\x1b[35m' },
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
/** Printed without quotes: no spaces, quotes, `=`, control or other invisible characters. */
const BARE = /^[\w.,:/@+\-[\]()*?%#~^]+$/;

export interface PrettyOptions {
  /** ANSI colours. */
  colour?: boolean;
}

/** Formats one pino JSON line; lines that are not JSON objects come back unchanged. */
export function formatPrettyLine(line: string, options: PrettyOptions = {}): string {
  let obj: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line;
    obj = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const { level, time, msg, sid, err, ...rest } = obj;
  const c = options.colour === true;
  const lvl = LEVELS[typeof level === 'number' ? level : 30] ?? { name: String(level).toUpperCase().padEnd(5), colour: '' };
  const parts: string[] = [];
  parts.push(c ? DIM + clock(time) + RESET : clock(time));
  parts.push(c ? lvl.colour + lvl.name + RESET : lvl.name);
  if (typeof msg === 'string') parts.push(c ? BOLD + printable(msg) + RESET + ' ' : printable(msg) + ' ');
  const fields: string[] = [];
  if (sid !== undefined) fields.push(field('sid', sid));
  for (const [key, value] of Object.entries(rest)) if (value !== undefined) fields.push(field(key, value));
  const { message, frames } = errorParts(err);
  if (message !== undefined) fields.push(field('err', message));
  let out = parts.join(' ') + (fields.length ? ' ' + fields.join(' ') : '');
  out = out.trimEnd();
  if (frames.length) out += c ? DIM + frames.join('') + RESET : frames.join('');
  return out + '\n';
}

/** An error's message, and its stack frames as indented lines to follow the log line. */
function errorParts(err: unknown): { message: unknown; frames: string[] } {
  if (err === undefined) return { message: undefined, frames: [] };
  if (typeof err !== 'object' || err === null) return { message: err, frames: [] };
  const e = err as { message?: unknown; stack?: unknown };
  // The stack's own first line repeats the message.
  const frames = typeof e.stack === 'string' ? e.stack.split('\n').slice(1).map((l) => '\n    ' + printable(l.trim())) : [];
  return { message: e.message ?? err, frames };
}

function field(key: string, value: unknown): string {
  return `${printable(key)}=${show(value)}`;
}

function show(value: unknown): string {
  // JSON escapes C0 controls; DEL, C1 (a CSI on some terminals) and line separators are replaced too.
  if (typeof value === 'string') return BARE.test(value) ? value : printable(JSON.stringify(value));
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return printable(JSON.stringify(value) ?? String(value));
}

/** A line that was not JSON, with its control characters made visible. */
function printableLine(s: string): string {
  return printable(s.replace(/\r$/, ''));
}

/** Control characters never reach the terminal. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/** `2026-11-28 14:03:11.123` (local time) from pino's ISO time, or the time now. */
function clock(time: unknown): string {
  const d = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const t = Number.isNaN(d.getTime()) ? new Date() : d;
  const two = (n: number) => String(n).padStart(2, '0');
  return `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())} ${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * A destination for pino that writes pretty lines to `target`, synchronously when `target` is (pino
 * writes whole lines, one per call; a partial line is kept until its end arrives).
 */
export class PrettyDestination {
  private pending = '';

  constructor(
    private readonly target: { write(s: string): unknown },
    private readonly options: PrettyOptions = {},
  ) {}

  write(chunk: string | Buffer): boolean {
    const lines = (this.pending + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'))).split('\n');
    this.pending = lines.pop() ?? '';
    let out = '';
    for (const line of lines) {
      if (line === '') continue;
      const pretty = formatPrettyLine(line, this.options);
      out += pretty.endsWith('\n') ? pretty : printableLine(pretty) + '\n';
    }
    if (out) this.target.write(out);
    return true;
  }
}

/**
 * Chooses the destination for `format`: `auto` is pretty when `isTTY`, else JSON. Returns `target`
 * itself for JSON.
 */
export function logDestination(
  format: LogFormat,
  target: { write(s: string): unknown },
  env: { isTTY: boolean; noColor?: boolean },
): { write(s: string): unknown } {
  if (!isPretty(format, env.isTTY)) return target;
  return new PrettyDestination(target, { colour: env.isTTY && !env.noColor });
}

/** Whether `format` writes pretty lines (`auto`: on a terminal), else JSON lines. */
export function isPretty(format: LogFormat, isTTY: boolean): boolean {
  return format === 'pretty' || (format === 'auto' && isTTY);
}
