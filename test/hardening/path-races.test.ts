/**
 * Confinement under races: a directory or file on the path is swapped for a symlink that leads out
 * after ftpsd checked it and before it opens it, for every command, with and without /proc/self/fd and
 * with metadata calls on the event loop or the thread pool. Nothing outside the root may change.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../src/storage/local.js';
import { base, c, code, makeTree, outside, root, serve, snapshotOutside, t } from './path-tree.js';
import { tryDownload, tryUpload } from './transfer-helpers.js';

/**
 * A LocalStorage whose next open of a path at or below `trigger` first runs `swap`: the window between
 * the check and the open. Paths opened through a held directory (`/proc/self/fd/N/name`) are matched by
 * where that directory is.
 */
class RacyStorage extends LocalStorage {
  trigger: string | undefined;
  swaps = 0;
  constructor(
    root: string,
    private readonly swap: () => Promise<void>,
    private readonly withProc: boolean,
    blockingMetadata: boolean,
  ) {
    super(root, { blockingMetadata });
  }

  protected override async openFile(real: string, flags: number, mode?: number): Promise<number> {
    let where = real;
    const m = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/.exec(real);
    if (m) where = (await fs.readlink(`/proc/self/fd/${m[1]}`)) + (m[2] ?? '');
    if (this.trigger !== undefined && (where === this.trigger || where.startsWith(this.trigger + '/'))) {
      this.trigger = undefined;
      this.swaps++;
      await this.swap();
    }
    return super.openFile(real, flags, mode);
  }

  protected override async openedPath(fd: number): Promise<string | undefined> {
    return this.withProc ? super.openedPath(fd) : undefined;
  }
}

const hasProc = await fs.readlink('/proc/self/fd/0').then(
  () => true,
  () => false,
);

// Metadata calls on the event loop (the default) and through the thread pool: the same checks.
for (const [withProc, blocking] of [[true, true], [false, true], [true, false], [false, false]] as const) {
  const how = `${withProc ? '/proc/self/fd' : 'fstat fallback'}${blocking ? '' : ', thread-pool metadata'}`;
  describe.skipIf(withProc && !hasProc)(`races: a path swapped after the check (${how})`, () => {
    let storage: RacyStorage;
    let before: string[];
    /** `sub` becomes a symlink to outside/outdir (the real sub moves aside): sub/deep is outside now. */
    const swapDir = async () => {
      await fs.rename(join(root, 'sub'), join(root, 'sub.moved'));
      await fs.symlink(join(outside, 'outdir'), join(root, 'sub'));
    };
    /** `inner.txt` becomes a symlink to outside/secret.txt. */
    const swapFile = async () => {
      await fs.rm(join(root, 'inner.txt'));
      await fs.symlink(join(outside, 'secret.txt'), join(root, 'inner.txt'));
    };

    beforeEach(async () => {
      await makeTree();
      storage = new RacyStorage(root, () => swap(), withProc, blocking);
      swap = swapDir;
      await serve(storage);
      before = await snapshotOutside();
    });
    let swap = swapDir;
    afterEach(async () => {
      c.close();
      await t.close();
      expect(storage.swaps, 'the race was run').toBe(1);
      expect(await snapshotOutside(), 'nothing outside the root changed').toEqual(before);
      expect((await fs.readdir(join(outside, 'outdir', 'deep'))).sort()).toEqual(['data.txt', 'outside-only.txt']);
      await fs.rm(base, { recursive: true, force: true });
    });

    const arm = (path = join(root, 'sub')) => (storage.trigger = path);

    it('RETR reads nothing from outside', async () => {
      arm();
      const { reply, data } = await tryDownload(c, 'RETR sub/deep/data.txt');
      expect(reply.code).toBe(550);
      expect(data.toString()).not.toContain('outside');
    });

    for (const cmd of ['LIST', 'NLST', 'MLSD']) {
      it(`${cmd} shows nothing from outside`, async () => {
        arm();
        const { reply, data } = await tryDownload(c, `${cmd} sub/deep`);
        expect(reply.code).not.toBe(226);
        expect(data.toString()).not.toContain('outside-only');
      });
    }

    it('STOR of a new file writes nothing outside', async () => {
      arm();
      expect((await tryUpload(c, 'STOR sub/deep/new.txt', 'pwned')).code).toBe(550);
    });

    it('STOR replacing an existing file writes nothing outside', async () => {
      arm();
      expect((await tryUpload(c, 'STOR sub/deep/data.txt', 'pwned')).code).toBe(550);
      expect(await fs.readFile(join(root, 'sub.moved', 'deep', 'data.txt'), 'utf8')).toBe('inside data');
    });

    it('APPE writes nothing outside', async () => {
      arm();
      expect((await tryUpload(c, 'APPE sub/deep/data.txt', 'pwned')).code).toBe(550);
    });

    it('REST + STOR writes nothing outside', async () => {
      await c.expectCmd('REST 2', 350);
      arm();
      expect((await tryUpload(c, 'STOR sub/deep/data.txt', 'pwned')).code).toBe(550);
    });

    it('MKD creates nothing outside', async () => {
      arm();
      expect(await code('MKD sub/deep/planted')).toBe(550);
    });

    it('RMD removes nothing outside', async () => {
      await fs.mkdir(join(outside, 'outdir', 'deep', 'empty'));
      await fs.mkdir(join(root, 'sub', 'deep', 'empty'));
      before = await snapshotOutside();
      arm();
      expect(await code('RMD sub/deep/empty')).toBe(550);
      await fs.rmdir(join(outside, 'outdir', 'deep', 'empty'));
      before = await snapshotOutside();
    });

    it('DELE deletes nothing outside', async () => {
      arm();
      expect(await code('DELE sub/deep/data.txt')).toBe(550);
    });

    it('RNFR/RNTO moves nothing from outside', async () => {
      expect(await code('RNFR sub/deep/data.txt')).toBe(350);
      arm();
      expect(await code('RNTO moved.txt')).toBe(550);
      await expect(fs.stat(join(root, 'moved.txt'))).rejects.toThrow();
    });

    it('RNFR/RNTO moves nothing to outside', async () => {
      expect(await code('RNFR inner.txt')).toBe(350);
      arm();
      expect(await code('RNTO sub/deep/planted.txt')).toBe(550);
      expect(await fs.readFile(join(root, 'inner.txt'), 'utf8')).toBe('inner');
    });

    it('SITE CHMOD changes nothing outside', async () => {
      arm();
      expect(await code('SITE CHMOD 777 sub/deep/data.txt')).toBe(550);
    });

    it('MFMT changes nothing outside', async () => {
      arm();
      expect(await code('MFMT 20200101000000 sub/deep/data.txt')).toBe(550);
    });

    for (const [what, run] of [
      ['RETR', async () => (await tryDownload(c, 'RETR inner.txt')).reply.code],
      ['APPE', async () => (await tryUpload(c, 'APPE inner.txt', 'pwned')).code],
      ['SITE CHMOD', () => code('SITE CHMOD 777 inner.txt')],
      ['MFMT', () => code('MFMT 20200101000000 inner.txt')],
    ] as const) {
      it(`a final component swapped for a link is refused (O_NOFOLLOW, and the descriptor check): ${what}`, async () => {
        swap = swapFile;
        arm(join(root, 'inner.txt'));
        expect(await run()).toBe(550);
      });
    }
  });
}
