/**
 * When to order: at once when there is no usable certificate, else `renewDays` before expiry (but never
 * in the first third of a certificate's life, so a short-lived certificate or a large renewDays does
 * not order again and again). A failed order keeps the current certificate and is tried again with
 * exponential backoff and jitter (from `retryMs` up to `maxRetryMs`), never before the time a CA's rate
 * limit names. Each new pair is stored, then handed to `install`.
 */
import type { Logger } from '../logger.js';
import type { IssuedPair } from './order.js';
import { AcmeError } from './problem.js';
import { describePair, type StoredCertificate } from './store.js';

export interface RenewerOptions {
  renewDays: number;
  log: Logger;
  /** Orders a new pair (throws an AcmeError on failure). */
  order: () => Promise<IssuedPair>;
  /** Stores the pair (before install). */
  store: (pair: IssuedPair) => Promise<void>;
  /** Puts the new pair in service. */
  install: (stored: StoredCertificate) => void | Promise<void>;
  /** First retry delay (default 60 s), doubled each failure up to `maxRetryMs` (default 6 h). */
  retryMs?: number;
  maxRetryMs?: number;
  now?: () => number;
  random?: () => number;
}

const DAY_MS = 86_400_000;
/** setTimeout's limit; a longer wait is made of several. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** When a certificate valid from `from` to `to` is due for renewal. */
export function renewalTime(from: Date, to: Date, renewDays: number): Date {
  const lifetime = to.getTime() - from.getTime();
  return new Date(Math.max(to.getTime() - renewDays * DAY_MS, from.getTime() + lifetime / 3));
}

export class AcmeRenewer {
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private current: StoredCertificate | undefined;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: RenewerOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Starts with the certificate in service (undefined: none from the CA yet, so order now). */
  start(current: StoredCertificate | undefined): void {
    this.current = current;
    if (!current) {
      this.at(this.now(), 'no certificate from the CA yet');
      return;
    }
    this.scheduleRenewal(current);
  }

  /** The next attempt, for logs and tests. */
  nextAttempt: Date | undefined;

  private scheduleRenewal(cert: StoredCertificate): void {
    const when = renewalTime(cert.validFrom, cert.validTo, this.options.renewDays);
    this.at(when.getTime(), 'renewal');
  }

  private at(time: number, why: string): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    this.nextAttempt = new Date(time);
    const delay = Math.max(0, time - this.now());
    if (delay > 0) this.options.log.info({ at: this.nextAttempt.toISOString(), why }, `acme: next order at ${this.nextAttempt.toISOString()} (${why})`);
    const wait = Math.min(delay, MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      if (wait < delay) this.at(time, why);
      else this.running = this.attempt().finally(() => (this.running = undefined));
    }, wait);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const { log } = this.options;
    try {
      const pair = await this.options.order();
      if (this.closed) return;
      const stored = describePair(pair.cert, pair.key);
      await this.options.store(pair);
      await this.options.install(stored);
      this.failures = 0;
      this.current = stored;
      log.info({ names: stored.names, fingerprint256: stored.fingerprint256, validTo: stored.validTo.toISOString() }, 'acme: certificate issued and in service');
      this.scheduleRenewal(stored);
    } catch (err) {
      if (this.closed) return;
      this.failures += 1;
      const base = this.options.retryMs ?? 60_000;
      const max = this.options.maxRetryMs ?? 6 * 3_600_000;
      // Full backoff, with jitter between half and all of it.
      const backoff = Math.min(max, base * 2 ** (this.failures - 1));
      let next = this.now() + backoff / 2 + (this.random() * backoff) / 2;
      const retryAfter = err instanceof AcmeError ? err.retryAfter : undefined;
      if (retryAfter && retryAfter.getTime() > next) next = retryAfter.getTime();
      const message = err instanceof Error ? err.message : String(err);
      const keeping = this.current ? `keeping the current certificate (valid until ${this.current.validTo.toISOString()})` : 'serving the self-signed certificate meanwhile';
      log.error({ failures: this.failures, retryAt: new Date(next).toISOString(), error: message }, `${message}; ${keeping}; retrying at ${new Date(next).toISOString()}`);
      this.at(next, `retry ${this.failures}`);
    }
  }

  /** Stops the timers; an order in progress is left to finish (its result is dropped). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
