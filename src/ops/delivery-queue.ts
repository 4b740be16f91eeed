/**
 * Runs hook commands and webhook requests off the transfer path: a bounded queue (a delivery that does
 * not fit is dropped, logged and counted), at most `concurrency` at a time, each attempt with its own
 * timeout, failed attempts retried with a doubling delay, and a drain with a deadline at shutdown.
 * Pushing is O(1) and never waits, so an event listener can push from inside a transfer.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

export interface DeliveryOptions {
  /** Deliveries waiting to run (queued and waiting for a retry); more are dropped. */
  queueSize: number;
  /** Deliveries running at once. */
  concurrency: number;
  /** Time for one attempt (a hook is killed, a request aborted). */
  timeoutMs: number;
  /** Attempts after the first one fails. */
  retries: number;
  /** Delay before the first retry; doubled for each one after it (at most 5 minutes). */
  retryDelayMs: number;
}

export const DEFAULT_DELIVERY: DeliveryOptions = {
  queueSize: 1000,
  concurrency: 4,
  timeoutMs: 10_000,
  retries: 3,
  retryDelayMs: 1000,
};

const MAX_RETRY_DELAY_MS = 300_000;

/** A failure that a retry cannot fix (a missing program, a 4xx answer). */
export class PermanentFailure extends Error {
  override readonly name = 'PermanentFailure';
}

export interface Delivery {
  kind: 'hook' | 'webhook';
  /** For logs: the event and the target (no secrets). */
  event: string;
  target: string;
  /** One attempt; rejects on failure. The signal fires on timeout and at the drain deadline. */
  attempt(signal: AbortSignal): Promise<void>;
}

export interface DeliveryQueueEvents {
  delivered: [Delivery, { attempts: number }];
  /** Gave up: retries spent, a permanent failure, or abandoned at the drain deadline. */
  failed: [Delivery, { attempts: number; error: string }];
  dropped: [Delivery];
  retry: [Delivery, { attempt: number; error: string }];
}

interface Entry {
  delivery: Delivery;
  attempts: number;
  timer?: NodeJS.Timeout;
}

export class DeliveryQueue extends EventEmitter<DeliveryQueueEvents> {
  readonly options: DeliveryOptions;
  private readonly queue: Entry[] = [];
  private readonly waiting = new Set<Entry>();
  private readonly running = new Set<Entry>();
  private readonly stop = new AbortController();
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  private lastDropLog = 0;
  private droppedSinceLog = 0;

  constructor(
    options: Partial<DeliveryOptions> = {},
    private readonly log: Logger = silentLogger,
  ) {
    super();
    this.options = { ...DEFAULT_DELIVERY, ...options };
  }

  /** Deliveries queued or waiting for a retry. */
  get pending(): number {
    return this.queue.length + this.waiting.size;
  }

  get active(): number {
    return this.running.size;
  }

  /** Queues a delivery; false (and a `dropped` event) when the queue is full or stopped. */
  push(delivery: Delivery): boolean {
    if (this.stop.signal.aborted || this.pending >= this.options.queueSize) {
      this.emit('dropped', delivery);
      this.logDrop(delivery);
      return false;
    }
    this.queue.push({ delivery, attempts: 0 });
    this.pump();
    return true;
  }

  /** At most one warning a second, with the number dropped meanwhile. */
  private logDrop(delivery: Delivery): void {
    this.droppedSinceLog++;
    const now = Date.now();
    if (now - this.lastDropLog < 1000) return;
    this.log.warn(
      { kind: delivery.kind, event: delivery.event, target: delivery.target, dropped: this.droppedSinceLog, queueSize: this.options.queueSize },
      this.stop.signal.aborted ? 'event delivery dropped: shutting down' : 'event delivery dropped: queue full',
    );
    this.lastDropLog = now;
    this.droppedSinceLog = 0;
  }

  private pump(): void {
    while (this.running.size < this.options.concurrency && this.queue.length > 0) {
      const entry = this.queue.shift()!;
      this.running.add(entry);
      void this.run(entry);
    }
    if (this.running.size === 0 && this.pending === 0) {
      const waiters = this.idleWaiters.splice(0);
      for (const w of waiters) w();
    }
  }

  private async run(entry: Entry): Promise<void> {
    entry.attempts++;
    const { delivery } = entry;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = AbortSignal.any([timeout, this.stop.signal]);
    let error: unknown;
    try {
      await delivery.attempt(signal);
    } catch (err) {
      error = err;
    }
    this.running.delete(entry);
    if (error === undefined) {
      this.emit('delivered', delivery, { attempts: entry.attempts });
      this.log.debug({ kind: delivery.kind, event: delivery.event, target: delivery.target, attempts: entry.attempts }, 'event delivered');
    } else {
      const message = timeout.aborted ? `timed out after ${this.options.timeoutMs} ms` : (error as Error)?.message ?? String(error);
      const permanent = error instanceof PermanentFailure;
      if (!permanent && entry.attempts <= this.options.retries && !this.stop.signal.aborted) {
        this.emit('retry', delivery, { attempt: entry.attempts, error: message });
        this.log.info({ kind: delivery.kind, event: delivery.event, target: delivery.target, attempt: entry.attempts, err: message }, 'event delivery failed; will retry');
        this.scheduleRetry(entry);
      } else {
        this.emit('failed', delivery, { attempts: entry.attempts, error: message });
        this.log.warn(
          { kind: delivery.kind, event: delivery.event, target: delivery.target, attempts: entry.attempts, err: message },
          this.stop.signal.aborted ? 'event delivery abandoned at shutdown' : 'event delivery failed',
        );
      }
    }
    this.pump();
  }

  private scheduleRetry(entry: Entry): void {
    const delay = this.draining ? 0 : Math.min(MAX_RETRY_DELAY_MS, this.options.retryDelayMs * 2 ** (entry.attempts - 1));
    this.waiting.add(entry);
    entry.timer = setTimeout(() => this.requeue(entry), delay);
  }

  private requeue(entry: Entry): void {
    if (!this.waiting.delete(entry)) return;
    entry.timer = undefined;
    this.queue.push(entry);
    this.pump();
  }

  /** Resolves when nothing is queued, waiting or running. */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Shutdown: runs what is queued (retries at once, no more delays) until `deadlineMs`, then aborts what
   * still runs and drops the rest. New pushes are still taken until the deadline (sessions that close
   * during shutdown report their logouts). Resolves with the number of deliveries given up.
   */
  async drain(deadlineMs: number): Promise<number> {
    this.draining = true;
    for (const entry of [...this.waiting]) {
      clearTimeout(entry.timer);
      this.requeue(entry);
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = await Promise.race([
      this.idle().then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), Math.max(0, deadlineMs)))),
    ]);
    clearTimeout(timer);
    if (!expired) {
      this.stop.abort();
      return 0;
    }
    const abandoned = this.pending + this.running.size;
    const left = [...this.queue.splice(0), ...this.waiting];
    for (const entry of this.waiting) clearTimeout(entry.timer);
    this.waiting.clear();
    for (const entry of left) this.emit('failed', entry.delivery, { attempts: entry.attempts, error: 'abandoned at shutdown' });
    this.stop.abort();
    // Running attempts see the abort and settle (each reports its own failure).
    await this.idle();
    if (abandoned > 0) this.log.warn({ abandoned, deadlineMs }, 'event deliveries abandoned at shutdown');
    return abandoned;
  }
}
