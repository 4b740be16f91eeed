/**
 * Per-user quotas over FTP (`users[].quota`): 552 during the transfer, replacing counts the difference,
 * file counts, one usage shared by the sessions of a user, ALLO against what is left, and the config file.
 */
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { loadConfig } from '../../src/config/load.js';
import { toServerOptions } from '../../src/config/server-options.js';
import { silentLogger } from '../../src/logger.js';
import { FtpServer } from '../../src/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { startUpload, tryUpload, until } from './transfer-helpers.js';
import { client, exists, root, serve, sizeOf, temps, useUploadRoot } from './upload-fixture.js';

useUploadRoot();

describe('quotas (users[].quota)', () => {
  const BASE = 10_000;
  beforeEach(async () => {
    await fs.mkdir(join(root, 'nested', 'deeper'), { recursive: true });
    await fs.writeFile(join(root, 'nested', 'deeper', 'base.bin'), Buffer.alloc(BASE, 1)); // found by the walk
    // links inside the home are followed by listings, but counted once (and a loop ends)
    await fs.symlink('.', join(root, 'self'));
    await fs.symlink('nested', join(root, 'alias'));
    await fs.symlink('../..', join(root, 'nested', 'deeper', 'up'));
  });

  it('bytes: an upload that would exceed the quota fails with 552; replacing counts the difference', async () => {
    await serve({ quota: { bytes: 100_000 } });
    const c = await client();
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(80_000, 2))).code).toBe(226); // 90 000
    expect((await tryUpload(c, 'STOR other.bin', Buffer.alloc(20_000, 3))).code).toBe(552);
    expect(await exists(join(root, 'other.bin'))).toBe(false);
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(90_000, 4))).code).toBe(226); // +10 000: exactly full
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(95_000, 5))).code).toBe(552); // +5 000: over
    expect(await fs.readFile(join(root, 'big.bin'))).toEqual(Buffer.alloc(90_000, 4)); // never damaged
    expect((await tryUpload(c, 'STOR tiny.bin', 'x')).code).toBe(552); // no byte left: refused at once
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(1_000, 6))).code).toBe(226); // shrinking is fine
    expect((await tryUpload(c, 'STOR other.bin', Buffer.alloc(20_000, 3))).code).toBe(226);
    expect(await temps()).toEqual([]);
  });

  it('the upload fails as soon as it would exceed the quota, not at its end', async () => {
    await serve({ quota: { bytes: 100_000 } });
    const c = await client();
    const data = await startUpload(c, 'STOR stream.bin', Buffer.alloc(80_000, 1));
    await until(async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === 80_000, '80 000 bytes written');
    const closed = once(data, 'close');
    data.write(Buffer.alloc(20_000, 2)); // 110 000 with the base file; the data connection stays open
    await c.expect(552, /quota/i);
    await closed; // the server closed the data connection
    expect(await exists(join(root, 'stream.bin'))).toBe(false);
    await until(async () => (await temps()).length === 0, 'the temp file removed');
  });

  it('APPE over the quota keeps the file and what fitted', async () => {
    await fs.writeFile(join(root, 'log.txt'), 'start\n');
    await serve({ quota: { bytes: BASE + 6 + 100 } });
    const c = await client();
    expect((await tryUpload(c, 'APPE log.txt', 'x'.repeat(200))).code).toBe(552);
    const after = await fs.readFile(join(root, 'log.txt'), 'utf8');
    expect(after.startsWith('start\n')).toBe(true);
    expect(after.length).toBeLessThanOrEqual(106);
  });

  it('files: a new file needs a free slot (552 before any data); deleting frees one', async () => {
    await serve({ quota: { files: 2 } });
    const c = await client();
    expect((await tryUpload(c, 'STOR one.txt', '1')).code).toBe(226);
    const data = await c.epsv();
    c.send('STOR two.txt');
    await c.expect(552); // no 150: refused before the transfer
    data.destroy();
    expect((await tryUpload(c, 'STOR one.txt', 'replaced')).code).toBe(226); // not a new file
    await c.expectCmd('DELE one.txt', 250);
    expect((await tryUpload(c, 'STOR two.txt', '2')).code).toBe(226);
    await c.expectCmd('RNFR two.txt', 350);
    await c.expectCmd('RNTO nested/deeper/base.bin', 250); // replaces a file: one file less
    expect((await tryUpload(c, 'STOR three.txt', '3')).code).toBe(226);
  });

  it('one usage for all sessions of the user: in-flight uploads count, ALLO sees it', async () => {
    await serve({ quota: { bytes: 100_000 } });
    const a = await client();
    const b = await client();
    const data = await startUpload(a, 'STOR a.bin', Buffer.alloc(60_000, 1));
    await until(async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === 60_000, 'a.bin in flight');
    expect((await tryUpload(b, 'STOR b.bin', Buffer.alloc(40_000, 2))).code).toBe(552); // 10k + 60k + 40k
    data.end();
    await a.expect(226);
    await b.expectCmd('ALLO 40000', 452);
    await b.expectCmd('ALLO 30000', 202);
    expect((await tryUpload(b, 'STOR b.bin', Buffer.alloc(30_000, 2))).code).toBe(226);
    await a.expectCmd('DELE a.bin', 250);
    await b.expectCmd('ALLO 60000', 202);
  });

  it('config: users[].quota and uploads from a YAML file reach a running server', async () => {
    const hash = await hashPassword('qpw');
    await fs.writeFile(
      join(root, 'ftpsd.yaml'),
      ['root: ./data', 'stateDir: ./state', 'uploads: { atomic: false, partial: keep }', 'users:', '  - name: quinn', `    password: "${hash}"`, '    quota: { bytes: 1000, files: 10 }', ''].join('\n'),
    );
    const config = await loadConfig({ config: join(root, 'ftpsd.yaml') }, { env: {}, cwd: root });
    expect(config.uploads).toEqual({ atomic: false, partial: 'keep' });
    expect(config.users[0]?.quota).toEqual({ bytes: 1000, files: 10 });
    const { options } = await toServerOptions(config, silentLogger);
    const server = new FtpServer({ ...options, listen: [{ host: '127.0.0.1', port: 0 }], implicitListen: [], tlsRequired: 'off', limits: { loginFailureDelayMs: 10 } });
    const { explicit } = await server.listen();
    const c = await RawClient.connect(explicit[0]!.port);
    try {
      await c.login('quinn', 'qpw');
      await c.expectCmd('TYPE I', 200);
      expect((await tryUpload(c, 'STOR a.bin', Buffer.alloc(800))).code).toBe(226);
      // over the quota: 552, and the new file goes although the policy is `keep`
      expect((await tryUpload(c, 'STOR b.bin', Buffer.alloc(300))).code).toBe(552);
      expect(await exists(join(root, 'data', 'b.bin'))).toBe(false);
      // atomic: false: a new file is written under its final name
      const data = await startUpload(c, 'STOR c.bin', Buffer.alloc(100));
      await until(async () => (await sizeOf(join(root, 'data', 'c.bin'))) === 100, 'c.bin in place');
      data.end();
      await c.expect(226);
    } finally {
      c.close();
      await server.close();
    }
  });
});
