/**
 * The storage contract: what every `Storage` backend must do, as a list of named async test cases that
 * use only `node:assert/strict`, so any test runner can run them (vitest, node:test, mocha):
 *
 * ```ts
 * for (const c of storageContract(async () => ({ storage: new MyStorage(), cleanup: async () => {} }))) {
 *   it(c.name, c.run);
 * }
 * ```
 *
 * Each case calls `factory` for a fresh, empty storage and calls its `cleanup` afterwards. Optional
 * capabilities (setTime, chmod, freeSpace, checksum, symlink) are checked only when the backend has them; `offset`
 * writes may be refused with ENOTSUP. Errors must carry a POSIX name, as `StorageError.errno` or as the
 * `code` of a Node fs error, that the protocol layer maps to a reply.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { errorToReply } from '../protocol/errors.js';
import type { FileStat, HashAlgorithm, Storage, Upload, WriteOptions } from '../storage/storage.js';
import type { VirtualPath } from '../storage/virtual-path.js';

export interface StorageFixture {
  /** A fresh, empty storage. */
  storage: Storage;
  cleanup?: () => Promise<void>;
}

export interface StorageContractCase {
  name: string;
  run: () => Promise<void>;
}

/** The POSIX error name an error carries (`errno` of a StorageError, `code` of a Node error). */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { errno, code } = err as { errno?: unknown; code?: unknown };
  if (typeof errno === 'string') return errno;
  if (typeof code === 'string') return code;
  return undefined;
}

/** Expects `action` to fail with one of `errnos`, and the error to map to a deliberate reply. */
async function rejectsWith(action: () => Promise<unknown>, errnos: string | readonly string[], what: string): Promise<void> {
  const allowed = typeof errnos === 'string' ? [errnos] : errnos;
  let error: unknown;
  let failed = false;
  try {
    await action();
  } catch (err) {
    failed = true;
    error = err;
  }
  assert.ok(failed, `${what}: expected an error (${allowed.join(' or ')}), but it succeeded`);
  const errno = errnoOf(error);
  assert.ok(errno !== undefined && allowed.includes(errno), `${what}: expected ${allowed.join(' or ')}, got ${errno ?? String(error)}`);
  assert.equal(errorToReply(error).expected, true, `${what}: ${errno} is not mapped to a reply`);
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function listNames(storage: Storage, path: VirtualPath): Promise<string[]> {
  return (await collect(storage.list(path))).map((e) => e.name).sort();
}

async function readAll(storage: Storage, path: VirtualPath, start?: number): Promise<Buffer> {
  const stream = await storage.read(path, start === undefined ? {} : { start });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Writes all of `data` (in chunks of at most `chunkSize`) into the upload and ends its stream. */
async function send(upload: Upload, data: Buffer | string, chunkSize = 64 * 1024): Promise<void> {
  const buf = Buffer.from(data);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  await pipeline(Readable.from(chunks), upload.stream);
}

/** Writes a whole file and commits it. */
async function put(storage: Storage, path: VirtualPath, data: Buffer | string, options: WriteOptions = { mode: 'replace' }): Promise<void> {
  const upload = await storage.write(path, options);
  try {
    await send(upload, data);
    await upload.commit();
  } catch (err) {
    await upload.abort().catch(() => {});
    throw err;
  }
}

/** Starts an upload and writes `data` without ending it. */
async function partial(storage: Storage, path: VirtualPath, data: Buffer | string, options: WriteOptions = { mode: 'replace' }): Promise<Upload> {
  const upload = await storage.write(path, options);
  await new Promise<void>((resolve, reject) => upload.stream.write(Buffer.from(data), (err) => (err ? reject(err) : resolve())));
  return upload;
}

/** An upload that must fail, at `write()` or at the latest at `commit()`. */
async function failedPut(storage: Storage, path: VirtualPath, options: WriteOptions = { mode: 'replace' }): Promise<void> {
  const upload = await storage.write(path, options);
  try {
    await send(upload, 'x');
    await upload.commit();
  } catch (err) {
    await upload.abort().catch(() => {});
    throw err;
  }
}

/** Runs `write()` and reports ENOTSUP as `undefined` (offset writes are optional). */
async function unlessUnsupported(action: () => Promise<void>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOTSUP') return false;
    throw err;
  }
}

function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function assertStat(st: FileStat, name: string, type: 'file' | 'dir', size?: number): void {
  assert.equal(st.name, name, 'stat name');
  assert.equal(st.type, type, `type of ${name}`);
  if (size !== undefined) assert.equal(st.size, size, `size of ${name}`);
  assert.ok(st.mtime instanceof Date && !Number.isNaN(st.mtime.getTime()), `mtime of ${name} is a valid Date`);
}

function referenceHash(data: Buffer, algorithm: HashAlgorithm): string {
  if (algorithm === 'CRC32') return crc32(data).toString(16).padStart(8, '0');
  const names = { 'SHA-256': 'sha256', 'SHA-1': 'sha1', MD5: 'md5' } as const;
  return createHash(names[algorithm]).update(data).digest('hex');
}

const MUTATIONS_OF_ROOT = ['EACCES', 'EPERM', 'EBUSY', 'EINVAL', 'EISDIR', 'ENOTEMPTY', 'EEXIST'];

/** The contract as named cases; each case gets its own storage from `factory`. */
export function storageContract(factory: () => Promise<StorageFixture>): StorageContractCase[] {
  const cases: StorageContractCase[] = [];
  const test = (name: string, body: (storage: Storage) => Promise<void>): void => {
    cases.push({
      name,
      run: async () => {
        const fixture = await factory();
        try {
          await body(fixture.storage);
        } finally {
          await fixture.cleanup?.();
        }
      },
    });
  };

  // --- stat -----------------------------------------------------------------------------------
  test('stat: a file has its name, type, size and mtime', async (s) => {
    await put(s, ['a.txt'], 'hello');
    assertStat(await s.stat(['a.txt']), 'a.txt', 'file', 5);
  });

  test('stat: a directory', async (s) => {
    await s.mkdir(['d']);
    await s.mkdir(['d', 'e']);
    assertStat(await s.stat(['d']), 'd', 'dir');
    assertStat(await s.stat(['d', 'e']), 'e', 'dir');
  });

  test('stat: the root is a directory', async (s) => {
    const st = await s.stat([]);
    assert.equal(st.type, 'dir');
  });

  test('stat: a missing entry is ENOENT', async (s) => {
    await put(s, ['f'], 'x');
    await rejectsWith(() => s.stat(['nope']), 'ENOENT', 'stat missing');
    await rejectsWith(() => s.stat(['nope', 'deeper']), 'ENOENT', 'stat below a missing dir');
    await rejectsWith(() => s.stat(['f', 'below-a-file']), ['ENOENT', 'ENOTDIR'], 'stat below a file');
  });

  test('stat: a unique fact, when present, differs between entries and is stable', async (s) => {
    await put(s, ['a'], '1');
    await put(s, ['b'], '1');
    await s.mkdir(['c']);
    const [a, b, c] = [await s.stat(['a']), await s.stat(['b']), await s.stat(['c'])];
    if (a.unique === undefined) return;
    assert.equal((await s.stat(['a'])).unique, a.unique, 'unique is stable');
    assert.equal(new Set([a.unique, b.unique, c.unique]).size, 3, 'unique differs between entries');
  });

  // --- list -----------------------------------------------------------------------------------
  test('list: entries with their types and sizes, without . and ..', async (s) => {
    await put(s, ['one.txt'], '1');
    await put(s, ['two.bin'], '22');
    await s.mkdir(['sub']);
    await put(s, ['sub', 'inner'], 'not listed at the top');
    const entries = await collect(s.list([]));
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.deepEqual([...byName.keys()].sort(), ['one.txt', 'sub', 'two.bin']);
    assert.equal(entries.length, 3, 'no duplicates');
    assertStat(byName.get('one.txt')!, 'one.txt', 'file', 1);
    assertStat(byName.get('two.bin')!, 'two.bin', 'file', 2);
    assertStat(byName.get('sub')!, 'sub', 'dir');
    assert.deepEqual(await listNames(s, ['sub']), ['inner']);
  });

  test('list: an empty directory has no entries', async (s) => {
    assert.deepEqual(await listNames(s, []), []);
    await s.mkdir(['empty']);
    assert.deepEqual(await listNames(s, ['empty']), []);
  });

  test('list: a missing directory is ENOENT, a file ENOTDIR', async (s) => {
    await put(s, ['f'], 'x');
    await rejectsWith(() => collect(s.list(['nope'])), 'ENOENT', 'list missing');
    await rejectsWith(() => collect(s.list(['f'])), ['ENOTDIR', 'ENOENT'], 'list a file');
  });

  test('list: streams a directory with 2000 entries, and may be left early', async (s) => {
    await s.mkdir(['big']);
    const names = Array.from({ length: 2000 }, (_, i) => `entry-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(names.slice(i, i + 50).map((n) => s.mkdir(['big', n])));
    }
    let seen = 0;
    for await (const entry of s.list(['big'])) {
      assert.equal(entry.type, 'dir');
      if (++seen === 10) break;
    }
    const all = await listNames(s, ['big']);
    assert.equal(all.length, names.length);
    assert.deepEqual(all, names);
  });

  // --- read -----------------------------------------------------------------------------------
  test('read: the whole file, also a large one written in many chunks', async (s) => {
    const small = Buffer.from('hello, world\n');
    await put(s, ['small'], small);
    assert.deepEqual(await readAll(s, ['small']), small);
    const large = bytes(1024 * 1024 + 17);
    const upload = await s.write(['large'], { mode: 'replace' });
    await send(upload, large, 7919);
    await upload.commit();
    assert.deepEqual(await readAll(s, ['large']), large);
    assert.equal((await s.stat(['large'])).size, large.length);
  });

  test('read: from a start offset (REST)', async (s) => {
    const data = bytes(300_000, 7);
    await put(s, ['f'], data);
    for (const start of [0, 1, 65_536, 299_999]) {
      assert.deepEqual(await readAll(s, ['f'], start), data.subarray(start), `from ${start}`);
    }
    assert.equal((await readAll(s, ['f'], data.length)).length, 0, 'from the end');
    assert.equal((await readAll(s, ['f'], data.length + 10)).length, 0, 'past the end');
  });

  test('read: an empty file', async (s) => {
    await put(s, ['empty'], '');
    assert.equal((await readAll(s, ['empty'])).length, 0);
    assertStat(await s.stat(['empty']), 'empty', 'file', 0);
  });

  test('read: a missing file is ENOENT, a directory EISDIR', async (s) => {
    await s.mkdir(['d']);
    await rejectsWith(() => readAll(s, ['nope']), 'ENOENT', 'read missing');
    await rejectsWith(() => readAll(s, ['d']), 'EISDIR', 'read a directory');
  });

  // --- write: replace -------------------------------------------------------------------------
  test('write replace: a new file is visible only after commit', async (s) => {
    const upload = await s.write(['new.txt'], { mode: 'replace' });
    await send(upload, 'content');
    await rejectsWith(() => s.stat(['new.txt']), 'ENOENT', 'stat before commit');
    assert.deepEqual(await listNames(s, []), [], 'nothing listed before commit');
    await upload.commit();
    assert.equal((await readAll(s, ['new.txt'])).toString(), 'content');
    assert.deepEqual(await listNames(s, []), ['new.txt']);
  });

  test('write replace: the old content stays readable until commit', async (s) => {
    await put(s, ['f'], 'old content');
    const upload = await s.write(['f'], { mode: 'replace' });
    await send(upload, 'new');
    assert.equal((await readAll(s, ['f'])).toString(), 'old content', 'before commit');
    await upload.commit();
    assert.equal((await readAll(s, ['f'])).toString(), 'new', 'after commit: no old tail');
    assert.equal((await s.stat(['f'])).size, 3);
  });

  test('write replace: abort leaves the old content untouched', async (s) => {
    await put(s, ['f'], 'precious');
    const upload = await partial(s, ['f'], 'garbage that must not land');
    await upload.abort();
    assert.equal((await readAll(s, ['f'])).toString(), 'precious');
    assert.deepEqual(await listNames(s, []), ['f'], 'no leftovers');
  });

  test('write replace: abort after the stream ended, before commit, changes nothing', async (s) => {
    await put(s, ['f'], 'precious');
    const upload = await s.write(['f'], { mode: 'replace' });
    await send(upload, 'complete but not committed');
    await upload.abort();
    assert.equal((await readAll(s, ['f'])).toString(), 'precious');
  });

  test('write replace: abort on a new file leaves no file', async (s) => {
    const upload = await partial(s, ['new'], 'partial');
    await upload.abort();
    await rejectsWith(() => s.stat(['new']), 'ENOENT', 'stat after abort');
    assert.deepEqual(await listNames(s, []), [], 'no leftovers');
  });

  test('write: commit right after end() has all the data', async (s) => {
    const upload = await s.write(['f'], { mode: 'replace' });
    upload.stream.write(Buffer.from('first '));
    upload.stream.end(Buffer.from('last'));
    await upload.commit();
    assert.equal((await readAll(s, ['f'])).toString(), 'first last');
  });

  test('write replace: an empty upload makes an empty file', async (s) => {
    await put(s, ['f'], 'something');
    await put(s, ['f'], '');
    assertStat(await s.stat(['f']), 'f', 'file', 0);
  });

  test('write replace: a committed file gets a current mtime', async (s) => {
    const before = Date.now();
    await put(s, ['f'], 'x');
    const mtime = (await s.stat(['f'])).mtime.getTime();
    assert.ok(Math.abs(mtime - before) < 5 * 60_000, `mtime ${new Date(mtime).toISOString()} is current`);
  });

  test('write: onto a directory is EISDIR; into a missing directory ENOENT; below a file ENOTDIR', async (s) => {
    await s.mkdir(['d']);
    await put(s, ['f'], 'x');
    for (const mode of ['replace', 'append', 'offset'] as const) {
      await rejectsWith(() => failedPut(s, ['d'], { mode, offset: 0 }), ['EISDIR', ...(mode === 'offset' ? ['ENOTSUP'] : [])], `${mode} onto a directory`);
    }
    await rejectsWith(() => failedPut(s, ['nope', 'f']), 'ENOENT', 'write in a missing directory');
    await rejectsWith(() => failedPut(s, ['f', 'g']), ['ENOTDIR', 'ENOENT'], 'write below a file');
    await rejectsWith(() => failedPut(s, []), MUTATIONS_OF_ROOT, 'write the root');
    assert.equal((await s.stat(['d'])).type, 'dir');
  });

  // --- write: append --------------------------------------------------------------------------
  test('write append: adds at the end of a file', async (s) => {
    await put(s, ['log'], 'one\n');
    await put(s, ['log'], 'two\n', { mode: 'append' });
    await put(s, ['log'], 'three\n', { mode: 'append' });
    assert.equal((await readAll(s, ['log'])).toString(), 'one\ntwo\nthree\n');
  });

  test('write append: creates a missing file', async (s) => {
    await put(s, ['log'], 'first', { mode: 'append' });
    assert.equal((await readAll(s, ['log'])).toString(), 'first');
  });

  test('write append: abort never loses the existing data', async (s) => {
    await put(s, ['log'], 'kept');
    const upload = await partial(s, ['log'], '+more', { mode: 'append' });
    await upload.abort();
    const after = (await readAll(s, ['log'])).toString();
    assert.ok(after === 'kept' || after === 'kept+more', `after abort: ${JSON.stringify(after)}`);
  });

  // --- write: offset --------------------------------------------------------------------------
  test('write offset: writes from the offset and truncates after the data (REST + STOR)', async (s) => {
    await put(s, ['f'], '0123456789');
    const supported = await unlessUnsupported(() => put(s, ['f'], 'ab', { mode: 'offset', offset: 4 }));
    if (!supported) return;
    assert.equal((await readAll(s, ['f'])).toString(), '0123ab');
    await put(s, ['f'], 'XYZ', { mode: 'offset', offset: 6 });
    assert.equal((await readAll(s, ['f'])).toString(), '0123abXYZ', 'at the end: appends');
    await put(s, ['f'], '', { mode: 'offset', offset: 2 });
    assert.equal((await readAll(s, ['f'])).toString(), '01', 'no data: truncates');
  });

  test('write offset: offset 0 creates a missing file', async (s) => {
    const supported = await unlessUnsupported(() => put(s, ['g'], 'new', { mode: 'offset', offset: 0 }));
    if (!supported) return;
    assert.equal((await readAll(s, ['g'])).toString(), 'new');
  });

  test('write offset: past the end of the file is an error', async (s) => {
    await put(s, ['f'], '0123');
    await rejectsWith(() => failedPut(s, ['f'], { mode: 'offset', offset: 5 }), ['EINVAL', 'ENOTSUP'], 'offset past the end');
    await rejectsWith(() => failedPut(s, ['missing'], { mode: 'offset', offset: 1 }), ['EINVAL', 'ENOTSUP', 'ENOENT'], 'offset in a missing file');
    assert.equal((await readAll(s, ['f'])).toString(), '0123', 'unchanged');
  });

  test('write offset: abort never loses data beyond what was written', async (s) => {
    await put(s, ['f'], '0123456789');
    let upload: Upload;
    try {
      upload = await partial(s, ['f'], 'ab', { mode: 'offset', offset: 2 });
    } catch (err) {
      if (errnoOf(err) === 'ENOTSUP') return;
      throw err;
    }
    await upload.abort();
    const after = (await readAll(s, ['f'])).toString();
    assert.ok(after === '0123456789' || after === '01ab456789', `after abort: ${JSON.stringify(after)}`);
  });

  // --- mkdir / rmdir / remove -----------------------------------------------------------------
  test('mkdir: creates an empty directory', async (s) => {
    await s.mkdir(['d']);
    assertStat(await s.stat(['d']), 'd', 'dir');
    assert.deepEqual(await listNames(s, ['d']), []);
    await s.mkdir(['d', 'nested']);
    assert.deepEqual(await listNames(s, ['d']), ['nested']);
  });

  test('mkdir: an existing directory or file is EEXIST', async (s) => {
    await s.mkdir(['d']);
    await put(s, ['f'], 'x');
    await rejectsWith(() => s.mkdir(['d']), 'EEXIST', 'mkdir an existing directory');
    await rejectsWith(() => s.mkdir(['f']), 'EEXIST', 'mkdir an existing file');
    assert.equal((await readAll(s, ['f'])).toString(), 'x');
  });

  test('mkdir: a missing parent is ENOENT', async (s) => {
    await rejectsWith(() => s.mkdir(['a', 'b']), 'ENOENT', 'mkdir without parent');
  });

  test('rmdir: removes an empty directory', async (s) => {
    await s.mkdir(['d']);
    await s.rmdir(['d']);
    await rejectsWith(() => s.stat(['d']), 'ENOENT', 'stat after rmdir');
  });

  test('rmdir: a non-empty directory is ENOTEMPTY, a file ENOTDIR, a missing one ENOENT', async (s) => {
    await s.mkdir(['d']);
    await put(s, ['d', 'f'], 'x');
    await rejectsWith(() => s.rmdir(['d']), 'ENOTEMPTY', 'rmdir non-empty');
    await rejectsWith(() => s.rmdir(['d', 'f']), 'ENOTDIR', 'rmdir a file');
    await rejectsWith(() => s.rmdir(['nope']), 'ENOENT', 'rmdir missing');
    assert.equal((await readAll(s, ['d', 'f'])).toString(), 'x');
  });

  test('remove: deletes a file', async (s) => {
    await put(s, ['f'], 'x');
    await s.remove(['f']);
    await rejectsWith(() => s.stat(['f']), 'ENOENT', 'stat after remove');
    assert.deepEqual(await listNames(s, []), []);
  });

  test('remove: a directory is EISDIR, a missing file ENOENT', async (s) => {
    await s.mkdir(['d']);
    await rejectsWith(() => s.remove(['d']), 'EISDIR', 'remove a directory');
    await rejectsWith(() => s.remove(['nope']), 'ENOENT', 'remove missing');
    assert.equal((await s.stat(['d'])).type, 'dir');
  });

  // --- rename ---------------------------------------------------------------------------------
  test('rename: a file, also into another directory', async (s) => {
    await put(s, ['a'], 'content');
    await s.mkdir(['d']);
    await s.rename(['a'], ['b']);
    await rejectsWith(() => s.stat(['a']), 'ENOENT', 'old name');
    assert.equal((await readAll(s, ['b'])).toString(), 'content');
    await s.rename(['b'], ['d', 'c']);
    assert.equal((await readAll(s, ['d', 'c'])).toString(), 'content');
    assert.deepEqual(await listNames(s, []), ['d']);
  });

  test('rename: a directory with its content', async (s) => {
    await s.mkdir(['d']);
    await s.mkdir(['d', 'e']);
    await put(s, ['d', 'e', 'f'], 'deep');
    await s.rename(['d'], ['moved']);
    assert.equal((await readAll(s, ['moved', 'e', 'f'])).toString(), 'deep');
    await rejectsWith(() => s.stat(['d']), 'ENOENT', 'old name');
  });

  test('rename: onto an existing file replaces it', async (s) => {
    await put(s, ['a'], 'new');
    await put(s, ['b'], 'old and longer');
    await s.rename(['a'], ['b']);
    assert.equal((await readAll(s, ['b'])).toString(), 'new');
    assert.deepEqual(await listNames(s, []), ['b']);
  });

  test('rename: a missing source is ENOENT, a missing target directory ENOENT', async (s) => {
    await put(s, ['a'], 'x');
    await rejectsWith(() => s.rename(['nope'], ['b']), 'ENOENT', 'rename missing');
    await rejectsWith(() => s.rename(['a'], ['nope', 'b']), 'ENOENT', 'rename into a missing directory');
    assert.equal((await readAll(s, ['a'])).toString(), 'x');
  });

  test('rename: a file onto a directory, or a directory onto a file, is refused', async (s) => {
    await put(s, ['f'], 'x');
    await s.mkdir(['d']);
    await put(s, ['d', 'inner'], 'y');
    await rejectsWith(() => s.rename(['f'], ['d']), ['EISDIR', 'EEXIST', 'ENOTEMPTY'], 'file onto a directory');
    await rejectsWith(() => s.rename(['d'], ['f']), ['ENOTDIR', 'EEXIST'], 'directory onto a file');
    assert.equal((await readAll(s, ['f'])).toString(), 'x');
    assert.equal((await readAll(s, ['d', 'inner'])).toString(), 'y');
  });

  test('rename: a directory into itself is refused', async (s) => {
    await s.mkdir(['d']);
    await rejectsWith(() => s.rename(['d'], ['d', 'sub']), ['EINVAL', 'EACCES', 'EPERM'], 'directory into itself');
    assert.equal((await s.stat(['d'])).type, 'dir');
  });

  test('rename: onto itself keeps the entry', async (s) => {
    await put(s, ['f'], 'x');
    await s.mkdir(['d']);
    await put(s, ['d', 'inner'], 'y');
    await s.rename(['f'], ['f']);
    await s.rename(['d'], ['d']);
    assert.equal((await readAll(s, ['f'])).toString(), 'x');
    assert.equal((await readAll(s, ['d', 'inner'])).toString(), 'y');
  });

  // --- the root and names ---------------------------------------------------------------------
  test('the root cannot be removed, renamed or created', async (s) => {
    await put(s, ['f'], 'x');
    await rejectsWith(() => s.rmdir([]), MUTATIONS_OF_ROOT, 'rmdir /');
    await rejectsWith(() => s.remove([]), MUTATIONS_OF_ROOT, 'remove /');
    await rejectsWith(() => s.rename([], ['x']), MUTATIONS_OF_ROOT, 'rename /');
    await rejectsWith(() => s.rename(['f'], []), MUTATIONS_OF_ROOT, 'rename onto /');
    await rejectsWith(() => s.mkdir([]), MUTATIONS_OF_ROOT, 'mkdir /');
    assert.equal((await s.stat([])).type, 'dir');
    assert.deepEqual(await listNames(s, []), ['f']);
  });

  test('names with spaces, quotes, dots and UTF-8 are kept exactly', async (s) => {
    const names = [' lead and trail ', 'a "quoted" name', "it's", '...dots', 'é 日本 😀', '-rf', '#%&;=?'];
    for (const n of names) await put(s, [n], n);
    await s.mkdir(['dir with space']);
    await put(s, ['dir with space', 'é'], 'nested');
    assert.deepEqual(await listNames(s, []), [...names, 'dir with space'].sort());
    for (const n of names) {
      assertStat(await s.stat([n]), n, 'file', Buffer.byteLength(n));
      assert.equal((await readAll(s, [n])).toString(), n);
    }
    assert.equal((await readAll(s, ['dir with space', 'é'])).toString(), 'nested');
  });

  // --- optional capabilities ------------------------------------------------------------------
  test('setTime (when supported): sets the modification time of files and directories', async (s) => {
    if (!s.setTime) return;
    await put(s, ['f'], 'x');
    await s.mkdir(['d']);
    const when = new Date('2001-02-03T04:05:06Z');
    await s.setTime(['f'], when);
    await s.setTime(['d'], when);
    assert.equal(Math.floor((await s.stat(['f'])).mtime.getTime() / 1000), when.getTime() / 1000);
    assert.equal(Math.floor((await s.stat(['d'])).mtime.getTime() / 1000), when.getTime() / 1000);
    assert.equal((await readAll(s, ['f'])).toString(), 'x');
    await rejectsWith(() => s.setTime!(['nope'], when), 'ENOENT', 'setTime missing');
  });

  test('chmod (when supported): changes the permission bits', async (s) => {
    if (!s.chmod) return;
    await put(s, ['f'], 'x');
    await s.chmod(['f'], 0o600);
    const mode = (await s.stat(['f'])).mode;
    if (mode !== undefined) assert.equal(mode & 0o777, 0o600);
    await s.chmod(['f'], 0o644);
    const again = (await s.stat(['f'])).mode;
    if (again !== undefined) assert.equal(again & 0o777, 0o644);
    await rejectsWith(() => s.chmod!(['nope'], 0o600), 'ENOENT', 'chmod missing');
  });

  test('freeSpace (when supported): a number of bytes', async (s) => {
    if (!s.freeSpace) return;
    const free = await s.freeSpace([]);
    assert.ok(Number.isFinite(free) && free >= 0, `freeSpace ${free}`);
  });

  test('checksum (when supported): the digest of a byte range, as lower-case hex', async (s) => {
    if (!s.checksum) return;
    const data = bytes(100_000, 3);
    await put(s, ['f'], data);
    for (const algorithm of ['SHA-256', 'SHA-1', 'MD5', 'CRC32'] as const) {
      for (const [start, end] of [
        [0, data.length],
        [10, 20_000],
        [5, 5],
      ] as const) {
        assert.equal(await s.checksum(['f'], algorithm, start, end), referenceHash(data.subarray(start, end), algorithm), `${algorithm} ${start}-${end}`);
      }
    }
    await rejectsWith(() => s.checksum!(['nope'], 'SHA-256', 0, 0), 'ENOENT', 'checksum missing');
    await s.mkdir(['d']);
    await rejectsWith(() => s.checksum!(['d'], 'SHA-256', 0, 0), 'EISDIR', 'checksum of a directory');
  });

  test('checksum (when supported): an empty file, and a file replaced meanwhile', async (s) => {
    if (!s.checksum) return;
    await put(s, ['e'], '');
    assert.equal(await s.checksum(['e'], 'SHA-256', 0, 0), referenceHash(Buffer.alloc(0), 'SHA-256'));
    assert.equal(await s.checksum(['e'], 'CRC32', 0, 0), '00000000', 'CRC32 is 8 hex digits');
    await put(s, ['f'], 'first');
    await s.checksum(['f'], 'MD5', 0, 5);
    await put(s, ['f'], 'second');
    assert.equal(await s.checksum(['f'], 'MD5', 0, 6), referenceHash(Buffer.from('second'), 'MD5'), 'no stale digest');
  });

  test('symlink (when supported): a link to a file reads, stats and lists like the file', async (s) => {
    if (!s.symlink) return;
    await put(s, ['f'], 'content');
    await s.symlink(['f'], ['l']);
    assert.equal((await readAll(s, ['l'])).toString(), 'content');
    assertStat(await s.stat(['l']), 'l', 'file', 7);
    assert.deepEqual(await listNames(s, []), ['f', 'l']);
    await put(s, ['f'], 'changed');
    assert.equal((await readAll(s, ['l'])).toString(), 'changed', 'the link follows its target');
    await s.remove(['l']);
    await rejectsWith(() => s.stat(['l']), 'ENOENT', 'stat a removed link');
    assert.equal((await readAll(s, ['f'])).toString(), 'changed', 'removing the link keeps the target');
  });

  test('symlink (when supported): a link to a directory, from another directory', async (s) => {
    if (!s.symlink) return;
    await s.mkdir(['d']);
    await put(s, ['d', 'inner'], 'x');
    await s.mkdir(['sub']);
    await s.symlink(['d'], ['sub', 'ld']);
    assertStat(await s.stat(['sub', 'ld']), 'ld', 'dir');
    assert.deepEqual(await listNames(s, ['sub', 'ld']), ['inner']);
    assert.equal((await readAll(s, ['sub', 'ld', 'inner'])).toString(), 'x');
    await s.rename(['sub', 'ld'], ['moved']);
    assert.deepEqual(await listNames(s, ['d']), ['inner'], 'renaming the link moves the link');
    await s.remove(['moved']);
    assert.deepEqual(await listNames(s, ['d']), ['inner'], 'removing the link keeps the directory');
  });

  test('symlink (when supported): an existing name is EEXIST, a missing target or directory ENOENT', async (s) => {
    if (!s.symlink) return;
    await put(s, ['a'], 'a');
    await put(s, ['b'], 'b');
    await rejectsWith(() => s.symlink!(['a'], ['b']), 'EEXIST', 'link onto an existing file');
    assert.equal((await readAll(s, ['b'])).toString(), 'b');
    await rejectsWith(() => s.symlink!(['missing'], ['c']), 'ENOENT', 'link to a missing target');
    await rejectsWith(() => s.stat(['c']), 'ENOENT', 'no link left behind');
    await rejectsWith(() => s.symlink!(['a'], ['nope', 'c']), 'ENOENT', 'link in a missing directory');
    await rejectsWith(() => s.symlink!(['a'], []), MUTATIONS_OF_ROOT, 'the root as the link');
  });

  return cases;
}
