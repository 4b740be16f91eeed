/**
 * Atomic uploads over FTP (`uploads.atomic`): a new or replaced file appears only when complete, a hidden
 * temp file holds the data meanwhile, and upload temp names are refused. Failed uploads:
 * upload-failures.test.ts; disk full: upload-disk-full.test.ts; quotas: upload-quota.test.ts.
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEMP_PREFIX } from '../../src/storage/local.js';
import { startUpload, tryUpload, until } from './transfer-helpers.js';
import { ORIGINAL, client, exists, root, serve, sizeOf, temps, useUploadRoot } from './upload-fixture.js';

useUploadRoot();

describe('atomic uploads (uploads.atomic)', () => {
  it('default: a new file appears only when complete; meanwhile a hidden temp file holds the data', async () => {
    await serve();
    const c = await client();
    const data = await startUpload(c, 'STOR new.bin', Buffer.alloc(30_000, 1));
    await until(async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === 30_000, 'data in the temp file');
    expect(await exists(join(root, 'new.bin'))).toBe(false);
    data.end(Buffer.alloc(10_000, 2));
    await c.expect(226);
    expect(await sizeOf(join(root, 'new.bin'))).toBe(40_000);
    expect(await temps()).toEqual([]);
  });

  it('atomic: false writes a new file in place under its final name', async () => {
    await serve({ uploads: { atomic: false } });
    const c = await client();
    const data = await startUpload(c, 'STOR new.bin', Buffer.alloc(30_000, 1));
    await until(async () => (await sizeOf(join(root, 'new.bin'))) === 30_000, 'data under the final name');
    expect(await temps()).toEqual([]);
    data.end(Buffer.alloc(10_000, 2));
    await c.expect(226);
    expect(await sizeOf(join(root, 'new.bin'))).toBe(40_000);
  });

  it('atomic: false still replaces an existing file through a temp file', async () => {
    await fs.writeFile(join(root, 'existing.bin'), ORIGINAL);
    await serve({ uploads: { atomic: false } });
    const c = await client();
    const data = await startUpload(c, 'STOR existing.bin', Buffer.alloc(30_000, 1));
    await until(async () => (await temps()).length === 1, 'a temp file');
    expect(await fs.readFile(join(root, 'existing.bin'))).toEqual(ORIGINAL);
    data.end();
    await c.expect(226);
    expect(await sizeOf(join(root, 'existing.bin'))).toBe(30_000);
  });

  it('names starting with the temp prefix are refused with 553, for every command', async () => {
    await fs.mkdir(join(root, 'd'));
    await serve();
    const c = await client();
    for (const name of [TEMP_PREFIX + 'x', `d/${TEMP_PREFIX}0123456789abcdef`, TEMP_PREFIX]) {
      expect((await tryUpload(c, `STOR ${name}`, 'x')).code, `STOR ${name}`).toBe(553);
      expect((await tryUpload(c, `APPE ${name}`, 'x')).code, `APPE ${name}`).toBe(553);
      for (const cmd of ['MKD', 'DELE', 'RMD', 'SIZE', 'MDTM', 'CWD', 'RNFR']) {
        expect((await c.cmd(`${cmd} ${name}`)).code, `${cmd} ${name}`).toBe(553);
      }
      await c.expectCmd('RNFR d', 350);
      await c.expectCmd(`RNTO ${name}`, 553);
    }
    expect((await tryUpload(c, `STOR x${TEMP_PREFIX}`, 'fine')).code).toBe(226); // only as a prefix
    expect(await temps()).toEqual([]);
  });
});
