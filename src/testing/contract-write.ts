/**
 * Storage contract cases: write in its three modes (replace, append, offset): commit, abort and what readers see meanwhile.
 */
import assert from 'node:assert/strict';
import { assertStat, type DefineCase, errnoOf, failedPut, listNames, MUTATIONS_OF_ROOT, partial, put, readAll, rejectsWith, send, unlessUnsupported } from './contract-helpers.js';
import type { Upload } from '../storage/storage.js';

export function writeCases(test: DefineCase): void {
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
}
