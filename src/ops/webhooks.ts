/**
 * Webhooks: each event is POSTed as JSON to every configured URL (http or https):
 *
 *   POST /ftpsd HTTP/1.1
 *   content-type: application/json
 *   user-agent: ftpsd
 *   x-ftpsd-event: upload
 *   x-ftpsd-delivery: 5f0c...   (the same for every attempt of one delivery: deduplicate on it)
 *
 *   {"event":"upload","time":"2026-11-28T20:03:11.000Z","session":"Xy3k_a","user":"alice",
 *    "peer":"127.0.0.1","path":"/in/report.pdf","bytes":1024,"durationMs":12,"secure":true}
 *
 * A 2xx answer delivers; 408, 429, 5xx, a network error or the timeout are retried; any other answer
 * (a 4xx: the request itself is wrong) is not. Redirects are not followed. Credentials in the URL
 * (`https://user:secret@host/path`) are sent as HTTP Basic authorization, and only the URL's origin and
 * path appear in logs.
 */
import { randomUUID } from 'node:crypto';
import type { AutomationEvent, HookEvent } from './hooks.js';
import { HOOK_EVENTS } from './hooks.js';
import { PermanentFailure } from './delivery-queue.js';

export interface WebhookSpec {
  url: string;
  /** Events to send; default: all. */
  events?: readonly (HookEvent | '*')[];
}

/** A parsed webhook target. */
export interface WebhookTarget {
  url: URL;
  /** `Basic ...` from credentials in the URL. */
  authorization: string | undefined;
  /** Origin and path only: safe to log. */
  label: string;
  events: ReadonlySet<HookEvent> | undefined;
}

/** Throws a plain-language error for a URL that is not http(s). */
export function parseWebhook(spec: WebhookSpec | string): WebhookTarget {
  const s = typeof spec === 'string' ? { url: spec } : spec;
  let url: URL;
  try {
    url = new URL(s.url);
  } catch {
    throw new Error('must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http:// or https:// URL');
  const authorization =
    url.username || url.password
      ? 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')
      : undefined;
  url.username = '';
  url.password = '';
  let events: Set<HookEvent> | undefined;
  if (s.events && !s.events.includes('*')) {
    for (const e of s.events) if (!(HOOK_EVENTS as readonly string[]).includes(e)) throw new Error(`unknown event "${e}"`);
    events = new Set(s.events as HookEvent[]);
  }
  return { url, authorization, label: url.origin + url.pathname, events };
}

/** POSTs one delivery (the same `deliveryId` for each attempt); rejects unless the answer is 2xx. */
export async function postWebhook(target: WebhookTarget, event: AutomationEvent, deliveryId: string, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'ftpsd',
    'x-ftpsd-event': event.event,
    'x-ftpsd-delivery': deliveryId,
  };
  if (target.authorization) headers.authorization = target.authorization;
  let res: Response;
  try {
    res = await fetch(target.url, { method: 'POST', headers, body: JSON.stringify(event), signal, redirect: 'manual' });
  } catch (err) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    throw new Error(cause?.code ?? cause?.message ?? (err as Error).message);
  }
  // The body is not needed; dropping it frees the connection.
  await res.body?.cancel().catch(() => {});
  if (res.status >= 200 && res.status < 300) return;
  const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
  const message = `HTTP ${res.status}`;
  throw retryable ? new Error(message) : new PermanentFailure(message);
}

export const newDeliveryId = (): string => randomUUID();
