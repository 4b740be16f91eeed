/**
 * Storage contract cases: mkdir, rmdir, remove and rename, and what holds for the root and for names.
 */
import assert from 'node:assert/strict';
import { assertStat, type DefineCase, listNames, MUTATIONS_OF_ROOT, put, readAll, rejectsWith } from './contract-helpers.js';

export function treeCases(test: DefineCase): void {
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
}
