/**
 * How hard the property tests try. `vitest` runs them with a fixed seed (42), so a failure repeats;
 * `npm run fuzz` runs the same properties with a random seed and many more runs, through:
 *   FTPSD_FUZZ_SEED   the seed (printed by the fuzz script; set it to replay a failure)
 *   FTPSD_FUZZ_SCALE  multiplies every property's number of runs
 */
export interface Runs {
  seed: number;
  numRuns: number;
}

const seed = process.env.FTPSD_FUZZ_SEED ? Number(process.env.FTPSD_FUZZ_SEED) : 42;
const scale = process.env.FTPSD_FUZZ_SCALE ? Math.max(1, Number(process.env.FTPSD_FUZZ_SCALE)) : 1;

/** fast-check parameters for a property that runs `numRuns` times in a normal test run. */
export function runs(numRuns: number): Runs {
  return { seed, numRuns: Math.round(numRuns * scale) };
}
