/**
 * HASH (draft-bryan-ftpext-hash) with every algorithm, over the whole file, from a REST offset, and over a
 * RANG range (draft-bryan-ftp-range); RANG with RETR.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allBytes, download, loggedIn } from '../helpers/flows.js';
import { RO_PASS, RO_USER, startServer, usingServer, type TestServer } from '../helpers/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { HashAlgorithm, Storage } from '../../src/storage/storage.js';

function digest(algorithm: HashAlgorithm, data: Buffer): string {
  if (algorithm === 'CRC32') return crc32(data).toString(16).padStart(8, '0');
  return createHash({ 'SHA-256': 'sha256', 'SHA-1': 'sha1', MD5: 'md5' }[algorithm]).update(data).digest('hex');
}

const ALGORITHMS: HashAlgorithm[] = ['SHA-256', 'SHA-1', 'MD5', 'CRC32'];

describe('HASH', () => {
  let t: TestServer;
  // Bigger than one read chunk (256 KiB), so hashing spans chunks.
  const data = Buffer.concat([allBytes(), allBytes(300_000)]);
  beforeAll(async () => {
    t = await startServer();
    await writeFile(join(t.root, 'data.bin'), data);
    await writeFile(join(t.root, 'empty.bin'), '');
    await writeFile(join(t.root, 'with space.bin'), 'spaced');
  });
  afterAll(() => t.close());

  it('defaults to SHA-256 over the whole file', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 SHA-256 0-${data.length} ${digest('SHA-256', data)} /data\\.bin$`));
    c.close();
  });

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: whole file, REST offset, RANG range`, async () => {
      const c = await loggedIn(t);
      await c.expectCmd(`OPTS HASH ${algorithm}`, 200, new RegExp(`^200 ${algorithm}$`));
      await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 ${algorithm} 0-${data.length} ${digest(algorithm, data)} /data\\.bin$`));
      // REST: from the offset to the end; used once.
      await c.expectCmd('REST 1000', 350);
      await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 ${algorithm} 1000-${data.length} ${digest(algorithm, data.subarray(1000))} /data\\.bin$`));
      await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 ${algorithm} 0-${data.length} `));
      // RANG: start and end are inclusive; the reply gives the end as an exclusive offset.
      await c.expectCmd('RANG 10 262150', 350, /^350 Restarting at 10\. End byte range at 262150\.$/);
      await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 ${algorithm} 10-262151 ${digest(algorithm, data.subarray(10, 262151))} /data\\.bin$`));
      await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 ${algorithm} 0-${data.length} `));
      // An empty file.
      await c.expectCmd('HASH empty.bin', 213, new RegExp(`^213 ${algorithm} 0-0 ${digest(algorithm, Buffer.alloc(0))} /empty\\.bin$`));
      c.close();
    });
  }

  it('a range past the end is cut at the end of the file', async () => {
    const c = await loggedIn(t);
    await c.expectCmd(`RANG 5 ${data.length + 100}`, 350);
    await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 SHA-256 5-${data.length} ${digest('SHA-256', data.subarray(5))} `));
    c.close();
  });

  it('takes paths with spaces and relative to the current directory', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('HASH with space.bin', 213, new RegExp(`^213 SHA-256 0-6 ${digest('SHA-256', Buffer.from('spaced'))} /with space\\.bin$`));
    c.close();
  });

  it('HASH of a directory or a missing file: 550; without a path: 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('HASH /', 550, /^550 Not a regular file\.$/);
    await c.expectCmd('HASH nothere', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('HASH', 501, /^501 Syntax: HASH <sp> pathname$/);
    c.close();
  });

  it('the read-only user may HASH', async () => {
    const c = await loggedIn(t, { user: RO_USER, pass: RO_PASS });
    await c.expectCmd('OPTS HASH MD5', 200);
    await c.expectCmd('HASH data.bin', 213, new RegExp(`^213 MD5 0-${data.length} ${digest('MD5', data)} /data\\.bin$`));
    c.close();
  });
});

describe('RANG', () => {
  let t: TestServer;
  const data = allBytes(5000);
  beforeAll(async () => {
    t = await startServer({ storage: new MemoryStorage({ 'data.bin': data }) });
  });
  afterAll(() => t.close());

  it('RANG + RETR sends the inclusive range; it is used once', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('RANG 100 199', 350, /^350 Restarting at 100\. End byte range at 199\.$/);
    expect((await download(c, 'RETR data.bin')).equals(data.subarray(100, 200))).toBe(true);
    expect((await download(c, 'RETR data.bin')).equals(data)).toBe(true);
    c.close();
  });

  it('RANG 1 0 resets; a reversed or malformed range is 501', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('RANG 100 199', 350);
    await c.expectCmd('RANG 1 0', 350, /^350 Byte range reset\.$/);
    expect((await download(c, 'RETR data.bin')).equals(data)).toBe(true);
    await c.expectCmd('RANG 10 5', 501, /^501 RANG end must not be before start\.$/);
    await c.expectCmd('RANG 10', 501, /^501 Syntax: RANG start end$/);
    await c.expectCmd('RANG a b', 501, /^501 Syntax: RANG start end$/);
    c.close();
  });

  it('RANG replaces an earlier REST', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('REST 4000', 350);
    await c.expectCmd('RANG 0 9', 350);
    expect((await download(c, 'RETR data.bin')).equals(data.subarray(0, 10))).toBe(true);
    c.close();
  });

  it('uses the storage checksum when the backend has one', async () => {
    const memory = new MemoryStorage({ 'f.bin': 'abc' });
    const calls: string[] = [];
    const storage: Storage = Object.assign(Object.create(memory) as MemoryStorage, {
      checksum: async (_p: readonly string[], algorithm: HashAlgorithm, start: number, end: number) => {
        calls.push(`${algorithm} ${start} ${end}`);
        return 'cafebabe';
      },
    });
    await usingServer({ storage }, async (t2) => {
      const c = await loggedIn(t2);
      await c.expectCmd('OPTS HASH CRC32', 200);
      await c.expectCmd('RANG 1 1', 350);
      await c.expectCmd('HASH f.bin', 213, /^213 CRC32 1-2 cafebabe \/f\.bin$/);
      expect(calls).toEqual(['CRC32 1 2']);
      c.close();
    });
  });
});
