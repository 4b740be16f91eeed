/**
 * Storage contract cases: stat, list and read: what a backend shows of files and directories.
 */
import assert from 'node:assert/strict';
import { assertStat, bytes, collect, type DefineCase, listNames, put, readAll, rejectsWith, send } from './contract-helpers.js';

export function readCases(test: DefineCase): void {
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

  // --- openRead (an optional shortcut: stat and read in one) -----------------------------------
  test('openRead (when present): the stat and the bytes that stat then read give', async (s) => {
    if (!s.openRead) return;
    const data = bytes(100_000, 5);
    await put(s, ['f'], data);
    for (const start of [0, 1, 99_999, data.length, data.length + 10]) {
      const { stat, stream } = await s.openRead(['f'], { start });
      assertStat(stat, 'f', 'file', data.length);
      assert.deepEqual(Buffer.concat(await collect(stream as AsyncIterable<Buffer>)), data.subarray(start), `from ${start}`);
    }
    const whole = await s.openRead(['f']);
    whole.stream.destroy();
    assert.equal(whole.stat.size, (await s.stat(['f'])).size);
  });

  test('openRead (when present): a missing file is ENOENT, a directory EISDIR', async (s) => {
    if (!s.openRead) return;
    await s.mkdir(['d']);
    await rejectsWith(() => s.openRead!(['nope']), 'ENOENT', 'openRead missing');
    await rejectsWith(() => s.openRead!(['d']), 'EISDIR', 'openRead a directory');
  });
}
