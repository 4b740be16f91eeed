/**
 * ACME failures as clear log lines. acme-client reports a CA's refusal as an Error with the detail only,
 * so the problem documents (RFC 8555 section 6.7: type, detail, and a Retry-After for rate limits) are
 * caught on the library's HTTP client as they arrive (`watchProblems`), and `explain` turns the last one
 * (or a network error) into a sentence: the name does not resolve, port 80 not reachable, rate limited
 * until when, or the CA's own type and detail.
 */
import type { AcmeChallenge } from './settings.js';

export interface Problem {
  type: string;
  detail: string;
  /** When the CA says to retry (rate limits), if it said. */
  retryAfter?: Date | undefined;
}

/** A failed ACME step, explained; `retryAfter` when the CA asked to wait. */
export class AcmeError extends Error {
  override name = 'AcmeError';
  constructor(
    message: string,
    readonly problem?: Problem,
    readonly retryAfter?: Date,
  ) {
    super(message);
  }
}

const PREFIX = 'urn:ietf:params:acme:error:';

function isProblem(v: unknown): v is { type: string; detail?: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' && (v as { type: string }).type.startsWith(PREFIX);
}

/** A Retry-After header (seconds or an HTTP date) as a time. */
export function parseRetryAfter(value: unknown, now = Date.now()): Date | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d+$/.test(value)) return new Date(now + Number(value) * 1000);
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** The problem document of a response body (a refusal, or a challenge/authorization that failed), if any. */
export function problemOf(data: unknown, retryAfterHeader?: unknown): Problem | undefined {
  const found = isProblem(data) ? data : isProblem((data as { error?: unknown } | null)?.error) ? (data as { error: { type: string; detail?: unknown } }).error : undefined;
  if (!found) return undefined;
  const detail = typeof found.detail === 'string' ? found.detail.replace(/[\r\n]+/g, ' ').slice(0, 500) : '';
  return { type: found.type, detail, retryAfter: parseRetryAfter(retryAfterHeader) };
}

export interface ExplainContext {
  step: string;
  names: readonly string[];
  challenge: AcmeChallenge;
  /** Where our responder listens, `[::]:80`. */
  responder: string;
  directory: string;
}

/** One line for a failure of `ctx.step`: from the CA's problem document if there is one, else from the error. */
export function explain(err: unknown, problem: Problem | undefined, ctx: ExplainContext): AcmeError {
  if (err instanceof AcmeError) return err;
  const names = ctx.names.join(', ');
  if (problem) {
    const kind = problem.type.slice(PREFIX.length);
    const what = `${problem.type}: ${problem.detail}`;
    if (kind === 'rateLimited') {
      const when = problem.retryAfter ? `retry after ${problem.retryAfter.toISOString()}` : 'retry later';
      return new AcmeError(`acme: ${ctx.step}: rate limited by the CA (${what}); ${when}`, problem, problem.retryAfter);
    }
    // Let's Encrypt says `dns` ("DNS problem: NXDOMAIN ..."); others (Pebble) `connection`, "could not resolve".
    if (kind === 'dns' || /could not resolve|NXDOMAIN|no valid IP addresses|DNS problem/i.test(problem.detail)) {
      return new AcmeError(`acme: ${ctx.step}: the CA cannot resolve ${names} (${what}); each name needs a DNS record pointing to this server`, problem);
    }
    if (kind === 'connection' || kind === 'incorrectResponse' || kind === 'unauthorized' || kind === 'tls') {
      const port = ctx.challenge === 'http-01' ? 'port 80' : 'port 443';
      return new AcmeError(
        `acme: ${ctx.step}: the CA could not check ${names} on ${port} (${what}); ${port} of each name must reach ftpsd's ${ctx.challenge} responder on ${ctx.responder} (firewall, NAT, port forward)`,
        problem,
      );
    }
    return new AcmeError(`acme: ${ctx.step}: the CA refused (${what})`, problem, problem.retryAfter);
  }
  const e = err as NodeJS.ErrnoException & { message?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message.replace(/[\r\n]+/g, ' ').slice(0, 300) : String(err);
  if (code && /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|ECONNABORTED|EHOSTUNREACH|ENETUNREACH)$/.test(code)) {
    return new AcmeError(`acme: ${ctx.step}: cannot reach the CA at ${ctx.directory} (${code})`);
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO/.test(code)) {
    return new AcmeError(`acme: ${ctx.step}: the CA's HTTPS certificate is not trusted (${code}); for a private CA set acme.caBundle`);
  }
  return new AcmeError(`acme: ${ctx.step}: ${message}`);
}
