/**
 * Disk full on a real file system (a 1 MiB tmpfs, where the test may mount one: as root on Linux):
 * ENOSPC is 452, the existing file is intact, the partial-file policy decides what is left of a new one.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tryUpload } from './transfer-helpers.js';
import { client, exists, serve, temps, useUploadRoot } from './upload-fixture.js';

useUploadRoot();

/** Mounts a 1 MiB tmpfs on a temp directory, or says why it cannot. */
async function mountTmpfs(): Promise<{ dir: string } | { reason: string }> {
  if (process.platform !== 'linux') return { reason: 'not Linux' };
  const dir = await fs.mkdtemp(join(tmpdir(), 'ftpsd-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    await fs.rmdir(dir).catch(() => {});
    return { reason: `cannot mount a tmpfs (${(r.stderr || r.error?.message || 'not permitted').trim()}): run as root to include it` };
  }
  return { dir };
}

const tmpfs = await mountTmpfs();
if ('reason' in tmpfs) console.warn(`skipping the real disk-full test: ${tmpfs.reason}`);

describe.skipIf('reason' in tmpfs)('disk full on a real file system (1 MiB tmpfs)', () => {
  const dir = 'dir' in tmpfs ? tmpfs.dir : '';
  afterEach(async () => {
    for (const name of await fs.readdir(dir)) await fs.rm(join(dir, name), { recursive: true, force: true });
  });
  afterAll(async () => {
    spawnSync('umount', [dir]);
    await fs.rmdir(dir).catch(() => {});
  });

  it('ENOSPC is 452; the existing file is intact, the new one and the temp file are gone', async () => {
    const existing = Buffer.alloc(300 * 1024, 7);
    await fs.writeFile(join(dir, 'existing.bin'), existing);
    await serve({ home: dir });
    const c = await client();
    const big = Buffer.alloc(2 * 1024 * 1024, 9);
    expect((await tryUpload(c, 'STOR existing.bin', big)).code).toBe(452);
    expect(await fs.readFile(join(dir, 'existing.bin'))).toEqual(existing);
    expect((await tryUpload(c, 'STOR new.bin', big)).code).toBe(452);
    expect(await exists(join(dir, 'new.bin'))).toBe(false);
    expect(await temps(dir)).toEqual([]);
    // the space is free again: a small upload works
    expect((await tryUpload(c, 'STOR small.bin', 'fits')).code).toBe(226);
  });

  it('partial: keep leaves what fitted of a new file', async () => {
    await serve({ home: dir, uploads: { atomic: false, partial: 'keep' } });
    const c = await client();
    const big = Buffer.alloc(2 * 1024 * 1024, 9);
    expect((await tryUpload(c, 'STOR new.bin', big)).code).toBe(452);
    const kept = await fs.readFile(join(dir, 'new.bin'));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(big.length);
    expect(kept).toEqual(big.subarray(0, kept.length));
  });
});
