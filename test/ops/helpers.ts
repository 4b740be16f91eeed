/**
 * Helpers for the operations tests: a logger whose JSON lines are kept in memory, HTTP GETs against the
 * metrics endpoint, waiting for a condition without fixed sleeps, and reading Prometheus text.
 */
import { get } from 'node:http';
import { createLogger, type Logger } from '../../src/logger.js';
import type { FtpServer } from '../../src/server.js';

export interface CapturedLog {
  logger: Logger;
  /** Every line written so far, raw. */
  text(): string;
  /** Every line, parsed. */
  lines(): Record<string, unknown>[];
}

export function captureLogger(level: Parameters<typeof createLogger>[0] = 'trace'): CapturedLog {
  let out = '';
  const logger = createLogger(level, { write: (s: string) => (out += s) } as unknown as NodeJS.WritableStream);
  return {
    logger,
    text: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpGet(url: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once every session of `server` is gone (so every event of those sessions was emitted). */
export function sessionsGone(server: FtpServer): Promise<void> {
  return eventually(() => server.sessions.size === 0, 10_000, 'sessions to end');
}

/** Prometheus text -> `name{labels}` -> value (labels as written, sorted by the registry). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?)(\{.*\})? (\S+)$/.exec(line);
    if (m) out.set(m[1]! + (m[2] ?? ''), Number(m[3]));
  }
  return out;
}
