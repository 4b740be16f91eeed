/**
 * Config schema of cluster mode (`workers`): how many worker processes `ftpsd serve` runs (src/cluster/),
 * and `workerHeartbeat`: how the primary notices a worker that stopped answering.
 * Kept apart from schema.ts, which spreads it in; the same schema checks the file, FTPSD_WORKERS and
 * `--workers`.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { cgroupCpuLimit } from './cpu-quota.js';

/** How the primary checks that each worker still answers (cluster-schema's `workerHeartbeat`). */
export interface HeartbeatSettings {
  /** A ping to every worker this often. */
  intervalMs: number;
  /** A worker that has not answered for this long is killed (SIGKILL) and replaced. */
  timeoutMs: number;
}

export const DEFAULT_HEARTBEAT: HeartbeatSettings = { intervalMs: 1000, timeoutMs: 10_000 };

const heartbeatMs = (what: string) =>
  z.int({ error: `must be a whole number of milliseconds (${what})` }).min(10, 'must be >= 10').max(3_600_000, 'must be <= 3600000');

/** The most workers accepted (a typo such as 1000 is an error, not a fork bomb). */
export const MAX_WORKERS = 256;

/** `auto`: one worker per core. */
export type WorkersSetting = number | 'auto';

const WORKERS_ERROR = `must be a whole number from 1 to ${MAX_WORKERS}, or auto`;

/** The schema of `workers`, shared by the file, the environment and the command line. */
export const clusterFields = {
  workers: z
    .unknown()
    .transform((v, ctx): WorkersSetting => {
      const value = typeof v === 'string' ? v.trim() : v;
      if (value === 'auto') return 'auto';
      const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
      if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_WORKERS) return n;
      ctx.addIssue({ code: 'custom', message: WORKERS_ERROR });
      return z.NEVER;
    })
    .describe(
      'Worker processes (cluster mode): each serves sessions on the shared ports, passive ports are split between them. 1: a single process (no cluster); N: exactly N; auto: up to one per core, started on demand (one at the start, one more while the running ones are busy, an idle added one retired). Default: auto.',
    )
    .meta({
      reload: 'restart',
      command: true,
      env: 'FTPSD_WORKERS',
      flag: '--workers <n|auto>',
      flagHelp: 'worker processes sharing the ports (cluster mode); 1: a single process (default: auto, up to one per core, started on demand)',
    }),
} as const;

export const clusterSchemaShape = {
  workers: clusterFields.workers.optional(),
  workerHeartbeat: z
    .strictObject(
      {
        intervalMs: heartbeatMs('ping interval').describe(`The primary pings every worker this often. Default: ${DEFAULT_HEARTBEAT.intervalMs}.`),
        timeoutMs: heartbeatMs('no answer').describe(
          `A worker that has not answered for this long (stopped, or stuck in a long synchronous call) is killed and replaced; must be more than intervalMs. Default: ${DEFAULT_HEARTBEAT.timeoutMs}.`,
        ),
      },
      { error: 'must be a mapping of intervalMs, timeoutMs' },
    )
    .partial()
    .optional()
    .describe('Cluster mode: how the primary notices a worker that stops answering.')
    .meta({ reload: 'restart', command: true }),
};

/** `workerHeartbeat` with its defaults; timeoutMs must exceed intervalMs (message for the field `timeoutMs`). */
export function resolveHeartbeat(given: Partial<HeartbeatSettings> | undefined): HeartbeatSettings | { error: string } {
  const hb = { ...DEFAULT_HEARTBEAT, ...given };
  if (hb.timeoutMs <= hb.intervalMs) return { error: `must be more than intervalMs (${hb.intervalMs})` };
  return hb;
}

/** What bounds `auto` besides the cores (each given for tests; by default read from this host). */
export interface AutoWorkerBounds {
  /** The passive range: every worker needs at least one port of its own. */
  pasvPorts?: { min: number; max: number } | undefined;
  /** `os.availableParallelism()` by default. */
  cores?: number;
  /** The cgroup CPU quota in whole CPUs (cpu-quota.ts) by default; undefined: none. */
  cpuQuota?: number | undefined;
}

/**
 * The most workers a setting means on this host (`auto` starts one and adds up to this many on demand).
 * `auto`: one per core, but never more than the container's CPU quota nor the number of passive ports (so
 * `auto` never asks for a split that fails).
 */
export function workerCount(setting: WorkersSetting | undefined, bounds: AutoWorkerBounds = {}): number {
  if (setting !== undefined && setting !== 'auto') return setting;
  const cores = bounds.cores ?? availableParallelism();
  const quota = 'cpuQuota' in bounds ? bounds.cpuQuota : cgroupCpuLimit();
  const ports = bounds.pasvPorts ? bounds.pasvPorts.max - bounds.pasvPorts.min + 1 : Infinity;
  return Math.max(1, Math.min(cores, quota ?? Infinity, ports, MAX_WORKERS));
}
