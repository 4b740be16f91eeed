/**
 * Helpers for the operations tests: HTTP GETs against the metrics endpoint, waiting for a condition without fixed sleeps, and reading Prometheus text.
 */
import { get } from 'node:http';
import type { FtpServer } from '../../src/server.js';
import { until } from '../helpers/poll.js';

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
export function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  return until(check, what, timeoutMs, 20);
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
