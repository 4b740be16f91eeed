/**
 * examples/upload-hook.ts: post-processing on the `upload` event. Files uploaded to /incoming are hashed,
 * moved to /processed and listed in SHA256SUMS; checked on disk and through FTP.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import { processUpload } from '../../examples/upload-hook.js';
import { MemoryStorage } from '../../src/index.js';
import { runExample } from './run.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('examples/upload-hook.ts', () => {
  it('hashes and moves each upload once it is complete; SHA256SUMS lists them in order', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ftpsd-upload-hook-test-'));
    const ex = await runExample('upload-hook.ts', [root]);
    try {
      const client = new Client(15_000);
      await client.access({ host: '127.0.0.1', port: ex.port, user: 'drop', password: 'box', secure: true, secureOptions: { rejectUnauthorized: false } });
      const big = Buffer.alloc(3 * 1024 * 1024 + 5, 'z');
      await client.uploadFrom(Readable.from([big]), '/incoming/big.bin');
      await client.uploadFrom(Readable.from([Buffer.from('small\n')]), '/incoming/small.txt');
      await ex.waitFor(new RegExp(`^processed /incoming/big\\.bin sha256=${sha256(big)} -> /processed/big\\.bin$`));
      await ex.waitFor(new RegExp(`^processed /incoming/small\\.txt sha256=${sha256('small\n')} -> /processed/small\\.txt$`));

      const sums: Buffer[] = [];
      await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (sums.push(c), cb()) }), '/processed/SHA256SUMS');
      expect(Buffer.concat(sums).toString()).toBe(`${sha256(big)}  big.bin\n${sha256('small\n')}  small.txt\n`);
      expect(await client.list('/incoming')).toEqual([]);
      // The drop box user may not overwrite or delete, and may only upload into /incoming.
      await expect(client.uploadFrom(Readable.from([Buffer.from('x')]), '/processed/big.bin')).rejects.toThrow(/550/);
      await expect(client.remove('/processed/small.txt')).rejects.toThrow(/550/);
      client.close();

      expect(await readdir(join(root, 'incoming'))).toEqual([]);
      expect(sha256(await readFile(join(root, 'processed', 'big.bin')))).toBe(sha256(big));
    } finally {
      expect(await ex.stop()).toBe(0);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('processUpload works on any Storage', async () => {
    const storage = new MemoryStorage({ incoming: { 'a.txt': 'A' }, processed: {} });
    expect(await processUpload(storage, '/incoming/a.txt')).toEqual({ sha256: sha256('A'), movedTo: '/processed/a.txt' });
    const sums: Buffer[] = [];
    for await (const c of await storage.read(['processed', 'SHA256SUMS'])) sums.push(c as Buffer);
    expect(Buffer.concat(sums).toString()).toBe(`${sha256('A')}  a.txt\n`);
    await expect(storage.stat(['incoming', 'a.txt'])).rejects.toMatchObject({ errno: 'ENOENT' });
  });
});
