/** Small helpers shared by the bench: medians, number formatting, `name value` output, clocks. */

/** Median of the finite values (NaN when there are none). */
export function median(values: readonly number[]): number {
  const s = values.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Fixed decimals, or `NA` for a value that was not measured. */
export function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'NA';
}

/** Seconds since an arbitrary origin (monotonic). */
export function now(): number {
  return performance.now() / 1000;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** This process's own CPU seconds (every thread: user + system). */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Figures go to stdout as `name value`; progress goes to stderr. */
export function out(name: string, value: string | number): void {
  process.stdout.write(`${name} ${value}\n`);
}

export function log(...parts: unknown[]): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.map(String).join(' ')}\n`);
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
