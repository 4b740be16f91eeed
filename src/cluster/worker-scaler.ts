/**
 * Workers on demand (`workers: auto`): when the cluster adds a worker and when it retires one. The
 * primary starts one worker; each worker reports its event-loop utilization (the share of the last
 * second its event loop was busy, `performance.eventLoopUtilization`) and its session count about once a
 * second (message `load`); from those this decides:
 *
 * - grow: the mean utilization of the running workers over the last GROW_WINDOW_MS is above GROW_ELU,
 *   fewer than the most workers run, none is starting, and the last change is GROW_COOLDOWN_MS old (the
 *   new worker's share of the load shows first);
 * - retire: a worker other than the first slot's has held no session for `retireIdleMs` (RETIRE_IDLE_MS
 *   unless the test hook FTPSD_TEST_RETIRE_IDLE_MS sets it), more than one runs and none is starting;
 *   the highest slot goes first. The primary disconnects it (it takes no new connection, ends when its
 *   sessions do).
 *
 * Pure bookkeeping and a decision: the primary (primary.ts) forks and disconnects.
 */

/** Grow when the running workers were busier than this on average (0..1). */
export const GROW_ELU = 0.5;
/** Over this window of samples. */
export const GROW_WINDOW_MS = 2000;
/** At least this long after the last worker was added or retired. */
export const GROW_COOLDOWN_MS = 2000;
/** An added worker idle (no session) this long is retired. */
export const RETIRE_IDLE_MS = 180_000;
/** Samples older than this are dropped. */
const KEEP_MS = 10_000;

/** The idle time before retiring: RETIRE_IDLE_MS, or the test hook FTPSD_TEST_RETIRE_IDLE_MS (milliseconds, >= 100). */
export function retireIdleMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.FTPSD_TEST_RETIRE_IDLE_MS);
  return Number.isInteger(v) && v >= 100 ? v : RETIRE_IDLE_MS;
}

export type ScaleDecision = { kind: 'grow' } | { kind: 'retire'; slot: number } | { kind: 'hold' };

interface Load {
  samples: { at: number; elu: number }[];
  sessions: number;
  /** Since when it holds no session (its first report counts as the start). */
  idleSince: number | undefined;
}

export class WorkerScaler {
  private readonly loads = new Map<number, Load>();
  private lastChange = -Infinity;

  constructor(
    /** The most workers (slots). */
    private readonly max: number,
    private readonly idleMs = RETIRE_IDLE_MS,
  ) {}

  /** Worker `slot` reported its utilization since its last report and its sessions now. */
  report(slot: number, elu: number, sessions: number, now: number): void {
    let load = this.loads.get(slot);
    if (!load) this.loads.set(slot, (load = { samples: [], sessions, idleSince: undefined }));
    load.samples.push({ at: now, elu: Math.min(1, Math.max(0, elu)) });
    while (load.samples.length > 0 && load.samples[0]!.at < now - KEEP_MS) load.samples.shift();
    load.sessions = sessions;
    if (sessions > 0) load.idleSince = undefined;
    else load.idleSince ??= now;
  }

  /** A worker started (listening) or left: the next decision waits for the cooldown. */
  changed(now: number, goneSlot?: number): void {
    this.lastChange = now;
    if (goneSlot !== undefined) this.loads.delete(goneSlot);
  }

  /** Mean utilization of `slots` over the window; undefined when one of them has not reported in it. */
  meanElu(slots: number[], now: number): number | undefined {
    if (slots.length === 0) return undefined;
    let sum = 0;
    for (const slot of slots) {
      const recent = (this.loads.get(slot)?.samples ?? []).filter((s) => s.at >= now - GROW_WINDOW_MS);
      if (recent.length === 0) return undefined;
      sum += recent.reduce((a, s) => a + s.elu, 0) / recent.length;
    }
    return sum / slots.length;
  }

  /** What to do now, given the slots whose worker listens and whether one is starting. */
  decide(running: number[], starting: boolean, now: number): ScaleDecision {
    if (starting || running.length === 0 || now - this.lastChange < GROW_COOLDOWN_MS) return { kind: 'hold' };
    if (running.length < this.max) {
      const elu = this.meanElu(running, now);
      if (elu !== undefined && elu > GROW_ELU) return { kind: 'grow' };
    }
    if (running.length > 1) {
      const idle = running
        .filter((slot) => slot !== 0)
        .filter((slot) => {
          const since = this.loads.get(slot)?.idleSince;
          return since !== undefined && now - since >= this.idleMs;
        });
      if (idle.length > 0) return { kind: 'retire', slot: Math.max(...idle) };
    }
    return { kind: 'hold' };
  }
}
