/**
 * Config schema of cluster mode (`workers`): how many worker processes `ftpsd serve` runs (src/cluster/).
 * Kept apart from schema.ts, which spreads it in; the same schema checks the file, FTPSD_WORKERS and
 * `--workers`.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

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
      'Worker processes (cluster mode): each serves sessions on the shared ports, passive ports are split between them. 1: a single process (no cluster); auto: one per core. Default: auto.',
    ),
} as const;

export const clusterSchemaShape = {
  workers: clusterFields.workers.optional(),
};

/** The number of workers a setting means on this host (`auto`: one per core). */
export function workerCount(setting: WorkersSetting | undefined): number {
  if (setting === undefined || setting === 'auto') return Math.max(1, Math.min(availableParallelism(), MAX_WORKERS));
  return setting;
}
