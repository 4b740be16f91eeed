/**
 * Cluster scaling (`--only scaling`, ftpsd only): BENCH_SCALING_CLIENTS (4) curl downloads at once of a
 * BENCH_SCALING_MIB (256) MiB file over explicit FTPS (AUTH TLS, PROT P), against ftpsd with one worker
 * with BENCH_SCALING_WORKERS (default: one per core) and with `auto` (workers on demand: one at the start,
 * more added under load; W is `auto` in the names). Prints, for each worker count W:
 *   scaling_tls_retr_xC_wW_MBps                 aggregate rate of the C downloads (bytes / wall time)
 *   scaling_tls_retr_xC_wW_server_cpu_s_per_GiB the server's process tree (primary and workers)
 *   scaling_tls_retr_xC_wW_client_cpu_s         the curl processes' CPU (a saturated client shows here)
 * and scaling_tls_retr_xC_speedup (the rate with W workers over the rate with 1; _auto_speedup the same for
 * auto, whose first repetition's sessions all land on its one starting worker). The clients run on the
 * same machine: on a host with few cores they take cores from the server, which caps the speed-up.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fixtureDir } from './fixtures.js';
import { selfChildrenCpuSeconds, treeCpuSeconds } from './proc.js';
import type { Target } from './servers.js';
import { fmt, log, median, now, out, sleep } from './stats.js';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: not a whole number >= 1: ${v}`);
  return n;
};

/** `start(workers)` starts ftpsd with that many workers. */
export async function scaling(start: (workers: string) => Promise<Target>, root: string, reps: number, curl: string): Promise<void> {
  const clients = num('BENCH_SCALING_CLIENTS', 4);
  const mib = num('BENCH_SCALING_MIB', 256);
  const many = num('BENCH_SCALING_WORKERS', Math.max(2, availableParallelism()));
  const name = `scale-${mib}M.bin`;
  ensureFile(join(fixtureDir(root), name), mib * 1048576);
  const key = `scaling_tls_retr_x${clients}`;
  const rates = new Map<number | 'auto', number>();
  for (const workers of [1, many, 'auto'] as const) {
    const t = await start(String(workers));
    try {
      const runs: { MBps: number; cpu: number; cli: number }[] = [];
      for (let i = 0; i < reps; i++) {
        await sleep(300);
        const s0 = treeCpuSeconds(t.pids);
        const c0 = selfChildrenCpuSeconds();
        const t0 = now();
        const got = await Promise.all(Array.from({ length: clients }, () => download(curl, t, `bench/${name}`)));
        const dt = now() - t0;
        await sleep(300);
        const s1 = treeCpuSeconds(t.pids);
        const c1 = selfChildrenCpuSeconds();
        const size = mib * 1048576;
        const bad = got.find((n) => n !== size);
        if (bad !== undefined) throw new Error(`${key} with ${workers} workers: a download got ${bad} of ${size} bytes`);
        runs.push({ MBps: (clients * size) / dt / 1e6, cpu: (s1 - s0) / ((clients * size) / 1024 ** 3), cli: c1 - c0 });
      }
      const rate = median(runs.map((r) => r.MBps));
      rates.set(workers, rate);
      out(`${key}_w${workers}_MBps`, fmt(rate));
      out(`${key}_w${workers}_server_cpu_s_per_GiB`, fmt(median(runs.map((r) => r.cpu)), 3));
      out(`${key}_w${workers}_client_cpu_s`, fmt(median(runs.map((r) => r.cli)), 3));
      log(`${key} with ${workers} worker${workers === 1 ? '' : 's'}: ${fmt(rate)} MB/s`);
    } finally {
      await t.stop();
    }
  }
  out(`${key}_speedup`, fmt(rates.get(many)! / rates.get(1)!, 2));
  out(`${key}_auto_speedup`, fmt(rates.get('auto')! / rates.get(1)!, 2));
}

/** One PROT P download to /dev/null; resolves with the bytes received (-1 on failure). */
function download(curl: string, t: Target, path: string): Promise<number> {
  const url = `ftp://${encodeURIComponent(t.user)}:${encodeURIComponent(t.pass)}@${t.host}:${t.port}/${path}`;
  const args = ['-s', '-S', '--max-time', '600', '--ssl-reqd', '-k', '-o', '/dev/null', '-w', '%{size_download}', url];
  return new Promise((resolve) => {
    const ch = spawn(curl, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let so = '';
    let se = '';
    ch.stdout.on('data', (d: Buffer) => (so += d.toString()));
    ch.stderr.on('data', (d: Buffer) => (se += d.toString()));
    ch.on('error', (e) => (se += e.message));
    ch.on('close', (code) => {
      if (code !== 0) log(`curl ${path}: exit ${code} ${se.trim()}`);
      resolve(code === 0 ? Number(so.trim()) : -1);
    });
  });
}

/** A file of `size` random bytes, written once (kept while its size is right). */
function ensureFile(path: string, size: number): void {
  try {
    if (statSync(path).size === size) return;
  } catch {
    // missing
  }
  log(`creating ${path} (${size / 1048576} MiB)`);
  mkdirSync(join(path, '..'), { recursive: true });
  const fd = openSync(path, 'w', 0o644);
  try {
    const block = 1048576;
    for (let done = 0; done < size; done += block) writeSync(fd, randomBytes(Math.min(block, size - done)));
  } finally {
    closeSync(fd);
  }
}
