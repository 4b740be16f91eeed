/** Sizes and knobs from the environment (the anchor kit's BENCH_* names and defaults). */
import type { BenchConfig } from './workloads.js';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}: not a number: ${v}`);
  return n;
};

export function benchConfig(reps?: number): BenchConfig {
  return {
    reps: reps ?? num('BENCH_REPS', 3),
    bigMiB: num('BENCH_BIG_MIB', 1024),
    sessions: num('BENCH_SESSIONS', 2000),
    conc: num('BENCH_CONCURRENCY', 50),
    clientProcs: num('BENCH_CLIENT_PROCS', 1),
    small: num('BENCH_SMALL_FILES', 1000),
    smallSize: 4096,
    smallMaxS: num('BENCH_SMALL_MAX_S', 120),
    listN: num('BENCH_LIST_ENTRIES', 10000),
    idle: Math.max(2, num('BENCH_IDLE_SESSIONS', 500)),
    curl: process.env.BENCH_CURL || 'curl',
    // A reply may take this long (a 1,000,000-entry listing keeps the control connection quiet for minutes).
    timeoutMs: num('BENCH_TIMEOUT_S', 60) * 1000,
  };
}

export const argon2Sessions = (): number => num('BENCH_ARGON2_SESSIONS', 200);
export const argon2Verifies = (): number => num('BENCH_ARGON2_VERIFIES', 20);
