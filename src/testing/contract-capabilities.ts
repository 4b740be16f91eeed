/**
 * Storage contract cases: the optional capabilities (setTime, chmod, freeSpace, checksum, symlink), checked only when present.
 */
import assert from 'node:assert/strict';
import { assertStat, bytes, type DefineCase, listNames, MUTATIONS_OF_ROOT, put, readAll, referenceHash, rejectsWith } from './contract-helpers.js';

export function capabilityCases(test: DefineCase): void {
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
}
