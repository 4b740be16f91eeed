/**
 * Runs hook commands and webhook requests off the transfer path. Each target (one hook, one webhook)
 * has a lane of its own (delivery-lane.ts), so a target that hangs holds up only itself: a bounded
 * queue per lane, fair between users (one user's flood pushes out only its own events), at most
 * `concurrency` running per lane, each attempt with its own timeout, failed attempts retried with a
 * doubling delay, and a drain with a deadline at shutdown. Pushing never waits, so an event listener
 * can push from inside a transfer.
 *
 * A delivery that does not fit is dropped: the upload (or other action) it reports has already been
 * answered, and is not undone. Every drop is logged (a warning with the user, event, path, target and
 * reason: one line per dropped event, so no more lines than the actions that caused them) and counted
 * (`dropped` event; ftpsd_event_deliveries_dropped_total{kind,event,reason} in the metrics).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { Lane, NO_USER, type LaneEntry } from './delivery-lane.js';

export interface DeliveryOptions {
  /** Deliveries waiting to run (queued and waiting for a retry), per target; more are dropped. */
  queueSize: number;
  /** Deliveries running at once, per target. */
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
  /** The lane (one per hook or webhook); default: kind and target. */
  lane?: string;
  /** Whose event it is (fair shares, and the drop log); the path it is about (the drop log). */
  user?: string;
  path?: string;
  /** One attempt; rejects on failure. The signal fires on timeout and at the drain deadline. */
  attempt(signal: AbortSignal): Promise<void>;
}

/** Why a delivery was dropped: its lane was full, a user with fewer events took its place, or shutdown. */
export type DropReason = 'queue-full' | 'pushed-out' | 'shutdown';

export interface DeliveryQueueEvents {
  delivered: [Delivery, { attempts: number }];
  /** Gave up: retries spent, a permanent failure, or abandoned at the drain deadline. */
  failed: [Delivery, { attempts: number; error: string }];
  dropped: [Delivery, { reason: DropReason }];
  retry: [Delivery, { attempt: number; error: string }];
}

type Entry = LaneEntry<Delivery> & { lane: Lane<Delivery> };

export class DeliveryQueue extends EventEmitter<DeliveryQueueEvents> {
  readonly options: DeliveryOptions;
  private readonly lanes = new Map<string, Lane<Delivery>>();
  private readonly running = new Set<Entry>();
  private readonly stop = new AbortController();
  private draining = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    options: Partial<DeliveryOptions> = {},
    private readonly log: Logger = silentLogger,
  ) {
    super();
    this.options = { ...DEFAULT_DELIVERY, ...options };
  }

  /** Deliveries queued or waiting for a retry (all targets). */
  get pending(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.pending;
    return n;
  }

  get active(): number {
    return this.running.size;
  }

  /** Queues a delivery; false (and a `dropped` event) when it does not fit or the queue is stopped. */
  push(delivery: Delivery): boolean {
    if (this.stop.signal.aborted) {
      this.drop(delivery, 'shutdown');
      return false;
    }
    const key = delivery.lane ?? `${delivery.kind} ${delivery.target}`;
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = new Lane()));
    const user = delivery.user ?? NO_USER;
    if (lane.pending >= this.options.queueSize) {
      const evicted = lane.evictFor(user);
      if (!evicted) {
        this.drop(delivery, 'queue-full');
        return false;
      }
      this.drop(evicted.delivery, 'pushed-out');
    }
    const entry: Entry = { delivery, user, attempts: 0, lane };
    lane.enqueue(entry, true);
    this.pump();
    return true;
  }

  private drop(delivery: Delivery, reason: DropReason): void {
    this.emit('dropped', delivery, { reason });
    this.log.warn(
      { ...about(delivery), reason, queueSize: this.options.queueSize },
      reason === 'shutdown' ? 'event delivery dropped: shutting down' : `event delivery dropped: ${reason === 'queue-full' ? 'queue full' : 'pushed out by a user with fewer events waiting'}`,
    );
  }

  private pump(): void {
    for (const lane of this.lanes.values()) {
      let started = 0;
      for (const e of this.running) if (e.lane === lane) started++;
      while (started < this.options.concurrency && lane.hasQueued) {
        const entry = lane.next() as Entry;
        this.running.add(entry);
        started++;
        void this.run(entry);
      }
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
      entry.lane.finished(entry);
      this.emit('delivered', delivery, { attempts: entry.attempts });
      this.log.debug({ ...about(delivery), attempts: entry.attempts }, 'event delivered');
    } else {
      const message = timeout.aborted ? `timed out after ${this.options.timeoutMs} ms` : (error as Error)?.message ?? String(error);
      const permanent = error instanceof PermanentFailure;
      if (!permanent && entry.attempts <= this.options.retries && !this.stop.signal.aborted) {
        this.emit('retry', delivery, { attempt: entry.attempts, error: message });
        this.log.info({ ...about(delivery), attempt: entry.attempts, err: message }, 'event delivery failed; will retry');
        this.scheduleRetry(entry);
      } else {
        entry.lane.finished(entry);
        this.emit('failed', delivery, { attempts: entry.attempts, error: message });
        this.log.warn(
          { ...about(delivery), attempts: entry.attempts, err: message },
          this.stop.signal.aborted ? 'event delivery abandoned at shutdown' : 'event delivery failed',
        );
      }
    }
    this.pump();
  }

  private scheduleRetry(entry: Entry): void {
    const delay = this.draining ? 0 : Math.min(MAX_RETRY_DELAY_MS, this.options.retryDelayMs * 2 ** (entry.attempts - 1));
    entry.lane.waiting.add(entry);
    entry.timer = setTimeout(() => this.requeue(entry), delay);
  }

  private requeue(entry: Entry): void {
    if (!entry.lane.waiting.delete(entry)) return;
    entry.timer = undefined;
    entry.lane.enqueue(entry, false);
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
    for (const lane of this.lanes.values()) {
      for (const entry of [...lane.waiting] as Entry[]) {
        clearTimeout(entry.timer);
        this.requeue(entry);
      }
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
    const left: LaneEntry<Delivery>[] = [];
    for (const lane of this.lanes.values()) {
      left.push(...lane.takeAll());
      for (const entry of lane.waiting) {
        clearTimeout(entry.timer);
        lane.finished(entry);
        left.push(entry);
      }
      lane.waiting.clear();
    }
    for (const entry of left) {
      this.emit('failed', entry.delivery, { attempts: entry.attempts, error: 'abandoned at shutdown' });
      this.log.warn({ ...about(entry.delivery), attempts: entry.attempts }, 'event delivery abandoned at shutdown');
    }
    this.stop.abort();
    // Running attempts see the abort and settle (each reports its own failure).
    await this.idle();
    if (abandoned > 0) this.log.warn({ abandoned, deadlineMs }, 'event deliveries abandoned at shutdown');
    return abandoned;
  }
}

/** A delivery's fields in log lines: what, where, whose (never the attempt function or a secret). */
function about(d: Delivery): { kind: string; event: string; target: string; user?: string; path?: string } {
  return { kind: d.kind, event: d.event, target: d.target, ...(d.user !== undefined ? { user: d.user } : {}), ...(d.path !== undefined ? { path: d.path } : {}) };
}
