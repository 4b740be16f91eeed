/**
 * The tree the path tests attack, and the session they attack it through: a root with a file, a deep
 * directory and symlinks that lead out, next to an `outside` that must never change; `serve()` logs a
 * client in with its home at the root (a directory or a Storage). Its bindings (`root`, `c`, ...) are
 * live: set by makeTree() and serve() before each test.
 */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loggedIn } from '../helpers/flows.js';
import type { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import type { Storage } from '../../src/storage/storage.js';

export let base: string;
export let root: string;
export let outside: string;
export let t: TestServer;
export let c: RawClient;


/**
 * root/    inner.txt  sub/deep/data.txt  link-out-file -> outside/secret.txt  link-out-dir -> outside/outdir
 * outside/ secret.txt outdir/{data.txt, outside-only.txt, deep/{data.txt, outside-only.txt}}
 */
export async function makeTree(): Promise<void> {
  base = await fs.realpath(await fs.mkdtemp(join(tmpdir(), 'ftpsd-paths-')));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await fs.mkdir(join(root, 'sub', 'deep'), { recursive: true });
  await fs.mkdir(join(outside, 'outdir', 'deep'), { recursive: true });
  await fs.writeFile(join(root, 'inner.txt'), 'inner');
  await fs.writeFile(join(root, 'sub', 'deep', 'data.txt'), 'inside data');
  await fs.writeFile(join(outside, 'outdir', 'deep', 'data.txt'), 'outside data');
  await fs.writeFile(join(outside, 'outdir', 'deep', 'outside-only.txt'), 'outside only');
  await fs.writeFile(join(outside, 'secret.txt'), 'secret');
  await fs.chmod(join(outside, 'secret.txt'), 0o640);
  await fs.writeFile(join(outside, 'outdir', 'data.txt'), 'outside data');
  await fs.writeFile(join(outside, 'outdir', 'outside-only.txt'), 'outside only');
  await fs.utimes(join(outside, 'secret.txt'), new Date('2010-01-01T00:00:00Z'), new Date('2010-01-01T00:00:00Z'));
  await fs.utimes(join(outside, 'outdir', 'data.txt'), new Date('2010-01-01T00:00:00Z'), new Date('2010-01-01T00:00:00Z'));
  await fs.symlink(join(outside, 'secret.txt'), join(root, 'link-out-file'));
  await fs.symlink('../outside/outdir', join(root, 'link-out-dir'));
}

/** Everything outside the root, with contents, modes and times, to compare before and after. */
export async function snapshotOutside(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const full = join(dir, name);
      const st = await fs.lstat(full);
      const body = st.isFile() ? await fs.readFile(full, 'utf8') : '';
      out.push(`${full.slice(base.length)} ${st.mode.toString(8)} ${st.mtimeMs} ${body}`);
      if (st.isDirectory()) await walk(full);
    }
  };
  for (const name of (await fs.readdir(base)).filter((n) => n !== 'root')) {
    const full = join(base, name);
    const st = await fs.lstat(full);
    out.push(`${name} ${st.mode.toString(8)} ${st.isFile() ? await fs.readFile(full, 'utf8') : ''}`);
    if (st.isDirectory()) await walk(full);
  }
  return out;
}

export async function code(line: string): Promise<number> {
  return (await c.cmd(line)).code;
}

/** Starts a server whose one user has `home` (a directory or a Storage), and logs a binary client in. */
export async function serve(home: string | Storage): Promise<void> {
  t = await startServer({ users: [{ name: USER, password: { plain: PASS }, home }] });
  c = await loggedIn(t, { binary: true });
}
