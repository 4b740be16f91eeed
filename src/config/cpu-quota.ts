/**
 * The CPUs a container may use: `os.availableParallelism()` counts the host's cores (and the affinity
 * mask), not a cgroup CPU quota, so `workers: auto` reads the quota too. cgroup v2 `cpu.max`
 * (`QUOTA PERIOD`, or `max PERIOD` for none), else cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`
 * (-1 for none). The limit is the quota in whole CPUs, rounded up; undefined when there is none or it
 * cannot be read.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Whole CPUs allowed by the cgroup quota under `root` (default /sys/fs/cgroup), or undefined. */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  const v2 = read(join(root, 'cpu.max'));
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    return cpus(quota, period);
  }
  const quota = read(join(root, 'cpu', 'cpu.cfs_quota_us')) ?? read(join(root, 'cpu,cpuacct', 'cpu.cfs_quota_us'));
  const period = read(join(root, 'cpu', 'cpu.cfs_period_us')) ?? read(join(root, 'cpu,cpuacct', 'cpu.cfs_period_us'));
  return cpus(quota?.trim(), period?.trim());
}

function cpus(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
