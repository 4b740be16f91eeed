/**
 * `wget -r` over FTPS against a time budget (issue 16 item 10): wget 1.21 (GnuTLS) once took ~15 s for
 * a small tree with protected data against 0.8 s in clear, one stall per transfer. This fetches a tree
 * of 3 directories x 10 small files recursively with protected data (explicit FTPS) and in plain FTP,
 * prints `wget_tree_tls_s` and `wget_tree_plain_s`, and fails when the FTPS run exceeds
 * BENCH_WGET_MAX_S (default 5 s) or a file is missing. A benchmark, not a timed test.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Target } from './servers.js';
import { fmt, log, out } from './stats.js';

const DIRS = 3;
const FILES = 10;

/** The tree under `root/bench/wget-tree` (made once). */
function ensureTree(root: string): void {
  for (let d = 0; d < DIRS; d++) {
    const dir = join(root, 'bench', 'wget-tree', `d${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES; f++) writeFileSync(join(dir, `f${f}.txt`), `file ${d}/${f}\n`.repeat(64));
  }
}

function countFiles(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((n, e) => n + (e.isDirectory() ? countFiles(join(dir, e.name)) : 1), 0);
}

function wget(t: Target, tls: boolean, into: string, timeoutMs: number): Promise<{ code: number | null; seconds: number }> {
  const scheme = tls ? 'ftps' : 'ftp';
  const args = ['-q', '-r', '-nH', '--user', t.user, '--password', t.pass, ...(tls ? ['--no-check-certificate'] : []), `${scheme}://${t.host}:${t.port}/bench/wget-tree/`];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn('wget', args, { cwd: into, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, seconds: (performance.now() - started) / 1000 });
    });
    child.once('error', () => resolve({ code: -1, seconds: (performance.now() - started) / 1000 }));
  });
}

/** Runs the recursive fetch in both modes; returns the number of failures. */
export async function wgetTree(start: () => Promise<Target>): Promise<number> {
  const budget = Number(process.env.BENCH_WGET_MAX_S ?? 5);
  let failed = 0;
  for (const tls of [false, true]) {
    const t = await start();
    const into = mkdtempSync(join(tmpdir(), 'ftpsd-bench-wget-'));
    try {
      ensureTree(t.root);
      const r = await wget(t, tls, into, Math.max(60_000, budget * 4000));
      const files = countFiles(into);
      const name = `wget_tree_${tls ? 'tls' : 'plain'}_s`;
      out(name, fmt(r.seconds, 2));
      log(`wget -r ${tls ? 'ftps' : 'ftp'}: ${fmt(r.seconds, 2)} s, ${files} files, exit ${r.code}`);
      if (r.code !== 0 || files !== DIRS * FILES) {
        failed++;
        out(`${name}_failed`, JSON.stringify(`exit ${r.code}, ${files} of ${DIRS * FILES} files`));
      } else if (tls && r.seconds > budget) {
        failed++;
        out(`${name}_failed`, JSON.stringify(`over the budget of ${budget} s`));
      }
    } finally {
      rmSync(into, { recursive: true, force: true });
      await t.stop();
    }
  }
  return failed;
}
