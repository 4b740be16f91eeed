/**
 * Bench fixtures under `<root>/bench` (the layout and stamp file of the anchor kit, so a root shared with
 * the kit's runs is not rebuilt): `big.bin` (random, BENCH_BIG_MIB MiB), `small/f00000..` (4 KiB each),
 * `list10k/` (empty entries), and a world-writable `up/` for uploads. Rebuilt only when a size changes.
 * Files are owned by the owner of the root (so servers that drop privileges to that user can read them).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './stats.js';

export interface FixtureSpec {
  bigMiB: number;
  small: number;
  smallSize: number;
  listN: number;
}

export const fixtureDir = (root: string): string => join(root, 'bench');
export const smallName = (i: number): string => `bench/small/f${String(i).padStart(5, '0')}`;

export function ensureFixtures(root: string, spec: FixtureSpec): void {
  mkdirSync(root, { recursive: true });
  const dir = fixtureDir(root);
  const big = join(dir, 'big.bin');
  const stamp = join(dir, '.fixtures.json');
  // Same string as the kit's `run`, byte for byte.
  const want = JSON.stringify({ big: spec.bigMiB, small: spec.small, smallSize: spec.smallSize, list: spec.listN, v: 1 });
  let ok = false;
  try {
    ok = readFileSync(stamp, 'utf8') === want && statSync(big).size === spec.bigMiB * 1048576;
  } catch {
    // missing
  }
  if (!ok) {
    log(`creating fixtures under ${dir} (big ${spec.bigMiB} MiB, ${spec.small} x ${spec.smallSize} B, ${spec.listN} entries)`);
    mkdirSync(dir, { recursive: true });
    rmSync(stamp, { force: true });
    writeRandomFile(big, spec.bigMiB * 1048576);
    const sd = join(dir, 'small');
    rmSync(sd, { recursive: true, force: true });
    mkdirSync(sd);
    const blob = randomBytes(spec.smallSize * 16);
    for (let i = 0; i < spec.small; i++) {
      const o = (i % 16) * spec.smallSize;
      writeFileSync(join(sd, 'f' + String(i).padStart(5, '0')), blob.subarray(o, o + spec.smallSize));
    }
    const ld = join(dir, 'list10k');
    rmSync(ld, { recursive: true, force: true });
    mkdirSync(ld);
    for (let i = 0; i < spec.listN; i++) writeFileSync(join(ld, 'entry-' + String(i).padStart(6, '0') + '.dat'), '');
    writeFileSync(stamp, want);
  }
  mkdirSync(join(dir, 'up'), { recursive: true });
  chmodSync(join(dir, 'up'), 0o777);
  chownTree(root, dir);
}

function writeRandomFile(path: string, size: number): void {
  const tmp = path + '.tmp';
  const fd = openSync(tmp, 'w');
  try {
    const chunk = 8 << 20;
    for (let done = 0; done < size; ) {
      const n = Math.min(chunk, size - done);
      const b = randomBytes(n);
      for (let off = 0; off < n; ) off += writeSync(fd, b, off, n - off);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Gives `dir` (recursively) to the owner of `root`, when we may and it differs. */
function chownTree(root: string, dir: string): void {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return;
  const { uid, gid } = statSync(root);
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.uid !== uid || st.gid !== gid) chownSync(p, uid, gid);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dir);
}
