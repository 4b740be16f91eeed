/** LocalStorage beyond the contract: confinement to the root (symlinks), the root itself, temp files. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { errorToReply } from '../../src/base/errors.js';
import { LocalStorage, TEMP_PREFIX } from '../../src/storage/local.js';
import type { WriteOptions } from '../../src/storage/storage.js';
import type { VirtualPath } from '../../src/base/virtual-path.js';
import { errnoOf } from '../../src/testing/storage-contract.js';

let base: string;
let root: string;
let outside: string;
let storage: LocalStorage;

beforeEach(async () => {
  base = await fs.mkdtemp(join(tmpdir(), 'ftpsd-local-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await fs.mkdir(root);
  await fs.mkdir(outside);
  await fs.mkdir(join(outside, 'outdir'));
  await fs.writeFile(join(outside, 'secret.txt'), 'secret');
  await fs.writeFile(join(outside, 'outdir', 'data.txt'), 'outside data');
  await fs.chmod(join(outside, 'secret.txt'), 0o640);
  await fs.writeFile(join(root, 'inner.txt'), 'inner');
  await fs.mkdir(join(root, 'sub'));
  await fs.writeFile(join(root, 'sub', 'f.txt'), 'in sub');
  await fs.symlink(join(outside, 'secret.txt'), join(root, 'link-out-file'));
  await fs.symlink('../outside/outdir', join(root, 'link-out-dir'));
  await fs.symlink(join(outside, 'nothing.txt'), join(root, 'link-out-missing'));
  await fs.symlink('inner.txt', join(root, 'link-in-file'));
  await fs.symlink('sub', join(root, 'link-in-dir'));
  storage = new LocalStorage(root);
});

afterEach(async () => {
  await fs.rm(base, { recursive: true, force: true });
});

async function errno(action: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await action();
  } catch (err) {
    expect(errorToReply(err).expected, `${errnoOf(err)} maps to a reply`).toBe(true);
    return errnoOf(err);
  }
  return 'no error';
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function names(path: VirtualPath): Promise<string[]> {
  return (await collect(storage.list(path))).map((e) => e.name).sort();
}

async function readText(path: VirtualPath): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await storage.read(path)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function put(path: VirtualPath, data: string, options: WriteOptions = { mode: 'replace' }): Promise<void> {
  const upload = await storage.write(path, options);
  await pipeline(Readable.from([Buffer.from(data)]), upload.stream);
  await upload.commit();
}

async function outsideUntouched(): Promise<void> {
  expect((await fs.readdir(outside)).sort()).toEqual(['outdir', 'secret.txt']);
  expect(await fs.readFile(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  expect((await fs.stat(join(outside, 'secret.txt'))).mode & 0o777).toBe(0o640);
  expect(await fs.readdir(join(outside, 'outdir'))).toEqual(['data.txt']);
  expect(await fs.readFile(join(outside, 'outdir', 'data.txt'), 'utf8')).toBe('outside data');
}

describe('LocalStorage: symlinks that leave the root are not followed', () => {
  it('stat', async () => {
    expect(await errno(() => storage.stat(['link-out-file']))).toBe('ENOENT');
    expect(await errno(() => storage.stat(['link-out-dir']))).toBe('ENOENT');
    expect(await errno(() => storage.stat(['link-out-dir', 'data.txt']))).toBe('ENOENT');
    expect(await errno(() => storage.stat(['link-out-missing']))).toBe('ENOENT');
  });

  it('read', async () => {
    expect(await errno(() => storage.read(['link-out-file']))).toBe('ENOENT');
    expect(await errno(() => storage.read(['link-out-dir', 'data.txt']))).toBe('ENOENT');
  });

  it('openRead (RETR: stat and read in one)', async () => {
    expect(await errno(() => storage.openRead(['link-out-file']))).toBe('ENOENT');
    expect(await errno(() => storage.openRead(['link-out-dir', 'data.txt']))).toBe('ENOENT');
    expect(await errno(() => storage.openRead(['link-out-missing']))).toBe('ENOENT');
    expect(await errno(() => storage.openRead(['link-out-dir']))).toBe('ENOENT');
  });

  it('list: such links are hidden, and cannot be listed through', async () => {
    expect(await names([])).toEqual(['inner.txt', 'link-in-dir', 'link-in-file', 'sub']);
    expect(await errno(() => collect(storage.list(['link-out-dir'])))).toBe('ENOENT');
  });

  it('write, in every mode, onto a link or through a linked directory', async () => {
    for (const mode of ['replace', 'append', 'offset'] as const) {
      expect(await errno(() => put(['link-out-file'], 'pwned', { mode, offset: 0 })), mode).toBe('ENOENT');
      expect(await errno(() => put(['link-out-missing'], 'pwned', { mode, offset: 0 })), mode).toBe('ENOENT');
      expect(await errno(() => put(['link-out-dir', 'new.txt'], 'pwned', { mode, offset: 0 })), mode).toBe('ENOENT');
      expect(await errno(() => put(['link-out-dir', 'data.txt'], 'pwned', { mode, offset: 0 })), mode).toBe('ENOENT');
    }
    await outsideUntouched();
    expect((await fs.lstat(join(root, 'link-out-file'))).isSymbolicLink()).toBe(true);
  });

  it('chmod and setTime', async () => {
    const before = (await fs.stat(join(outside, 'secret.txt'))).mtimeMs;
    expect(await errno(() => storage.chmod(['link-out-file'], 0o777))).toBe('ENOENT');
    expect(await errno(() => storage.chmod(['link-out-dir'], 0o777))).toBe('ENOENT');
    expect(await errno(() => storage.setTime(['link-out-file'], new Date(0)))).toBe('ENOENT');
    expect(await errno(() => storage.setTime(['link-out-dir', 'data.txt'], new Date(0)))).toBe('ENOENT');
    expect((await fs.stat(join(outside, 'secret.txt'))).mtimeMs).toBe(before);
    await outsideUntouched();
  });

  it('mkdir, rmdir, remove and rename through a linked directory', async () => {
    expect(await errno(() => storage.mkdir(['link-out-dir', 'x']))).toBe('ENOENT');
    expect(await errno(() => storage.remove(['link-out-dir', 'data.txt']))).toBe('ENOENT');
    expect(await errno(() => storage.rmdir(['link-out-dir', 'x']))).toBe('ENOENT');
    expect(await errno(() => storage.rename(['link-out-dir', 'data.txt'], ['stolen.txt']))).toBe('ENOENT');
    expect(await errno(() => storage.rename(['inner.txt'], ['link-out-dir', 'planted.txt']))).toBe('ENOENT');
    expect(await errno(() => storage.freeSpace(['link-out-dir']))).toBe('ENOENT');
    await outsideUntouched();
    expect(await readText(['inner.txt'])).toBe('inner');
  });

  it('removing or renaming such a link acts on the link only', async () => {
    await storage.rename(['link-out-file'], ['renamed-link']);
    expect((await fs.lstat(join(root, 'renamed-link'))).isSymbolicLink()).toBe(true);
    await storage.remove(['renamed-link']);
    await storage.remove(['link-out-dir']);
    expect((await fs.readdir(root)).sort()).toEqual(['inner.txt', 'link-in-dir', 'link-in-file', 'link-out-missing', 'sub']);
    await outsideUntouched();
  });

  it('a symlink loop is refused with an error that maps to a reply', async () => {
    await fs.symlink('loop-b', join(root, 'loop-a'));
    await fs.symlink('loop-a', join(root, 'loop-b'));
    expect(await errno(() => storage.stat(['loop-a']))).toBe('ELOOP');
    expect(await names([])).not.toContain('loop-a');
  });
});

describe('LocalStorage: openRead', () => {
  /** Counts what it opens, to show which calls open nothing. */
  class CountingStorage extends LocalStorage {
    opened: string[] = [];
    protected override openFile(real: string, flags: number, mode?: number): Promise<number> {
      this.opened.push(real);
      return super.openFile(real, flags, mode);
    }
  }

  it('agrees with stat and read, from a start offset and past the end', async () => {
    const counting = new CountingStorage(root);
    const { stat, stream } = await counting.openRead(['inner.txt']);
    expect(stat).toEqual(await counting.stat(['inner.txt']));
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('inner');
    expect(counting.opened, 'one open').toEqual([join(await fs.realpath(root), 'inner.txt')]);
    const past = await counting.openRead(['inner.txt'], { start: 99 });
    expect(past.stat.size).toBe(5);
    const rest: Buffer[] = [];
    for await (const c of past.stream) rest.push(c as Buffer);
    expect(Buffer.concat(rest).length).toBe(0);
  });

  it('a directory is EISDIR, a missing file ENOENT, and neither is opened', async () => {
    const counting = new CountingStorage(root);
    expect(await errno(() => counting.openRead(['sub']))).toBe('EISDIR');
    expect(await errno(() => counting.openRead([]))).toBe('EISDIR');
    expect(await errno(() => counting.openRead(['nope']))).toBe('ENOENT');
    expect(await errno(() => counting.openRead(['inner.txt', 'below']))).toMatch(/^(ENOENT|ENOTDIR)$/);
    expect(counting.opened).toEqual([]);
  });

  it('a link that leads out is never opened', async () => {
    const counting = new CountingStorage(root);
    expect(await errno(() => counting.openRead(['link-out-file']))).toBe('ENOENT');
    expect(await errno(() => counting.openRead(['link-out-dir', 'data.txt']))).toBe('ENOENT');
    expect(counting.opened).toEqual([]);
  });

  it('the stat is the opened file\'s: a file replaced after the open keeps its old size', async () => {
    const { stat, stream } = await storage.openRead(['inner.txt']);
    await fs.rename(join(root, 'inner.txt'), join(root, 'old.txt'));
    await fs.writeFile(join(root, 'inner.txt'), 'a much longer replacement');
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(stat.size).toBe(5);
    expect(Buffer.concat(chunks).toString()).toBe('inner');
  });
});

describe('LocalStorage: symlinks inside the root work', () => {
  it('stat, read and list follow them', async () => {
    expect(await storage.stat(['link-in-file'])).toMatchObject({ name: 'link-in-file', type: 'file', size: 5 });
    expect(await storage.stat(['link-in-dir'])).toMatchObject({ name: 'link-in-dir', type: 'dir' });
    expect(await readText(['link-in-file'])).toBe('inner');
    expect(await names(['link-in-dir'])).toEqual(['f.txt']);
    expect(await readText(['link-in-dir', 'f.txt'])).toBe('in sub');
    const opened = await storage.openRead(['link-in-dir', 'f.txt'], { start: 3 });
    expect(opened.stat).toMatchObject({ name: 'f.txt', type: 'file', size: 6 });
    const chunks: Buffer[] = [];
    for await (const c of opened.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('sub');
    const listed = await collect(storage.list([]));
    expect(listed.find((e) => e.name === 'link-in-dir')?.type).toBe('dir');
    expect(listed.find((e) => e.name === 'link-in-file')?.type).toBe('file');
  });

  it('writes go through the link to its target, which keeps its mode', async () => {
    await fs.chmod(join(root, 'inner.txt'), 0o600);
    await put(['link-in-file'], 'replaced');
    expect((await fs.lstat(join(root, 'link-in-file'))).isSymbolicLink()).toBe(true);
    expect(await fs.readFile(join(root, 'inner.txt'), 'utf8')).toBe('replaced');
    expect((await fs.stat(join(root, 'inner.txt'))).mode & 0o777).toBe(0o600);
    await put(['link-in-file'], '+more', { mode: 'append' });
    expect(await fs.readFile(join(root, 'inner.txt'), 'utf8')).toBe('replaced+more');
    await put(['link-in-dir', 'new.txt'], 'via link');
    expect(await fs.readFile(join(root, 'sub', 'new.txt'), 'utf8')).toBe('via link');
  });

  it('writing onto a link to a directory is EISDIR', async () => {
    for (const mode of ['replace', 'append', 'offset'] as const) {
      expect(await errno(() => put(['link-in-dir'], 'x', { mode, offset: 0 })), mode).toBe('EISDIR');
    }
    expect((await fs.lstat(join(root, 'link-in-dir'))).isSymbolicLink()).toBe(true);
  });

  it('chmod and setTime act on the target', async () => {
    await storage.chmod(['link-in-file'], 0o604);
    expect((await fs.stat(join(root, 'inner.txt'))).mode & 0o777).toBe(0o604);
    await storage.setTime(['link-in-file'], new Date('2001-01-01T00:00:00Z'));
    expect((await fs.stat(join(root, 'inner.txt'))).mtime.toISOString()).toBe('2001-01-01T00:00:00.000Z');
  });

  it('a root that is itself a symlink works', async () => {
    const alias = join(base, 'alias');
    await fs.symlink(root, alias);
    const viaAlias = new LocalStorage(alias);
    expect((await viaAlias.stat(['inner.txt'])).size).toBe(5);
    expect((await viaAlias.stat(['link-in-dir'])).type).toBe('dir');
    expect(await errno(() => viaAlias.stat(['link-out-file']))).toBe('ENOENT');
  });
});

describe('LocalStorage: the root itself', () => {
  it('cannot be removed or renamed', async () => {
    expect(await errno(() => storage.rmdir([]))).toBe('EACCES');
    expect(await errno(() => storage.remove([]))).toBe('EACCES');
    expect(await errno(() => storage.rename([], ['x']))).toBe('EACCES');
    expect(await errno(() => storage.rename(['inner.txt'], []))).toBe('EACCES');
    expect((await fs.stat(root)).isDirectory()).toBe(true);
  });

  it('cannot be reached with ., .., empty or slashed segments (callers other than resolvePath)', async () => {
    const empty = join(base, 'empty-root');
    await fs.mkdir(empty);
    const s = new LocalStorage(empty);
    for (const bad of [['.'], ['..'], [''], ['a', '..'], ['a/b'], ['..', 'root'], ['x\0']]) {
      expect(await errno(() => s.rmdir(bad)), JSON.stringify(bad)).toBe('EINVAL');
      expect(await errno(() => s.stat(bad)), JSON.stringify(bad)).toBe('EINVAL');
      expect(await errno(() => s.rename(bad, ['moved'])), JSON.stringify(bad)).toBe('EINVAL');
      expect(await errno(() => s.remove(bad)), JSON.stringify(bad)).toBe('EINVAL');
      expect(await errno(() => s.mkdir(bad)), JSON.stringify(bad)).toBe('EINVAL');
      expect(await errno(() => put(bad, 'x')), JSON.stringify(bad)).toBe('EINVAL');
    }
    expect(await errno(() => storage.rename(['inner.txt'], ['..', 'escaped.txt']))).toBe('EINVAL');
    expect((await fs.stat(empty)).isDirectory()).toBe(true);
    expect((await fs.readdir(base)).sort()).toEqual(['empty-root', 'outside', 'root']);
  });
});

describe('LocalStorage: uploads', () => {
  it('in-flight upload temp files are hidden from listings and gone after commit or abort', async () => {
    const a = await storage.write(['a.txt'], { mode: 'replace' });
    const b = await storage.write(['inner.txt'], { mode: 'replace' });
    await new Promise<void>((resolve) => a.stream.write('partial', () => resolve()));
    const onDisk = await fs.readdir(root);
    expect(onDisk.filter((n) => n.startsWith(TEMP_PREFIX))).toHaveLength(2);
    expect(await names([])).toEqual(['inner.txt', 'link-in-dir', 'link-in-file', 'sub']);
    a.stream.end();
    await a.commit();
    await b.abort();
    expect((await fs.readdir(root)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
    expect(await readText(['a.txt'])).toBe('partial');
    expect(await readText(['inner.txt'])).toBe('inner');
  });

  it('a replaced file keeps its permission bits', async () => {
    await fs.chmod(join(root, 'inner.txt'), 0o600);
    await put(['inner.txt'], 'new');
    expect((await fs.stat(join(root, 'inner.txt'))).mode & 0o777).toBe(0o600);
  });

  it('a commit that fails (the target became a directory) leaves no temp file after abort', async () => {
    const upload = await storage.write(['later-dir'], { mode: 'replace' });
    await pipeline(Readable.from([Buffer.from('x')]), upload.stream);
    await fs.mkdir(join(root, 'later-dir'));
    await fs.writeFile(join(root, 'later-dir', 'keep'), 'k');
    expect(await errno(() => upload.commit())).toMatch(/^(EISDIR|ENOTEMPTY|EEXIST)$/);
    await upload.abort();
    expect((await fs.readdir(root)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([]);
    expect(await fs.readFile(join(root, 'later-dir', 'keep'), 'utf8')).toBe('k');
  });
});

const hasMkfifo = process.platform !== 'win32' && spawnSync('mkfifo', ['--version']).error === undefined;

describe.skipIf(!hasMkfifo)('LocalStorage: special files', () => {
  // a short timeout: a regression blocks a pool thread on open() for good
  it('a FIFO is hidden, and read/write refuse it without blocking', { timeout: 5000 }, async () => {
    const fifo = join(root, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(await names([])).not.toContain('pipe');
    expect(await errno(() => storage.stat(['pipe']))).toBe('ENOENT');
    expect(await errno(() => storage.read(['pipe']))).toBe('EACCES');
    // RETR's shortcut answers as stat does, and never opens it (it stats before it opens).
    expect(await errno(() => storage.openRead(['pipe']))).toBe('ENOENT');
    for (const mode of ['append', 'offset'] as const) {
      expect(await errno(() => put(['pipe'], 'x', { mode, offset: 0 })), mode).toBe('EACCES');
    }
  });
});
