/**
 * RETR STOR APPE STOU REST: byte-exact transfers, replacing and appending, unique names, resuming
 * downloads and uploads. TYPE A: transfer-ascii.test.ts; ABOR and broken connections:
 * transfer-abort.test.ts; commands during a transfer: transfer-during.test.ts.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/base/errors.js';
import { ForwardingStorage } from '../../src/storage/forwarding.js';
import { LocalStorage } from '../../src/storage/local.js';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { bytes, onDisk, t, useTransferServer } from './transfer-fixture.js';

describe('transfers', () => {
  useTransferServer();

  it('RETR in binary mode is byte-exact', async () => {
    const c = await loggedIn(t, { binary: true });
    const got = await download(c, 'RETR all.bin', { opening: /^150 Opening BINARY mode data connection for all\.bin\.$/ });
    expect(got.equals(bytes)).toBe(true);
    c.close();
  });

  it('STOR in binary mode is byte-exact, and RETR gives it back', async () => {
    const c = await loggedIn(t, { binary: true });
    const opening = await upload(c, 'STOR copy.bin', bytes);
    expect(opening.text).toBe('150 Ok to send data for copy.bin.');
    expect((await onDisk('copy.bin')).equals(bytes)).toBe(true);
    expect((await download(c, 'RETR copy.bin', { pasv: true })).equals(bytes)).toBe(true);
    c.close();
  });

  it('STOR replaces an existing file and keeps no temporary file', async () => {
    await writeFile(join(t.root, 'replace.txt'), 'old content that is longer');
    const c = await loggedIn(t, { binary: true });
    await upload(c, 'STOR replace.txt', 'new');
    expect((await onDisk('replace.txt')).toString()).toBe('new');
    expect((await readdir(t.root)).filter((n) => n.startsWith('.ftpsd-upload-'))).toEqual([]);
    c.close();
  });

  it('STOR of an empty file', async () => {
    const c = await loggedIn(t, { binary: true });
    await upload(c, 'STOR empty.txt', '');
    expect((await onDisk('empty.txt')).length).toBe(0);
    expect((await download(c, 'RETR empty.txt')).length).toBe(0);
    c.close();
  });

  it('STOR into a missing directory: 550 before any 150', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.epsv();
    await c.expectCmd('STOR nodir/x.txt', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('RETR of a directory or a missing file: 550 before any 150', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('MKD adir', 257);
    await c.epsv();
    await c.expectCmd('RETR adir', 550, /^550 Not a regular file\.$/);
    await c.epsv();
    await c.expectCmd('RETR nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('APPE appends, and creates a missing file', async () => {
    await writeFile(join(t.root, 'log.txt'), 'one\n');
    const c = await loggedIn(t, { binary: true });
    const opening = await upload(c, 'APPE log.txt', 'two\n');
    expect(opening.text).toBe('150 Ok to send data for log.txt.');
    await upload(c, 'APPE log.txt', bytes);
    expect((await onDisk('log.txt')).equals(Buffer.concat([Buffer.from('one\ntwo\n'), bytes]))).toBe(true);
    await upload(c, 'APPE fresh.txt', 'first');
    expect((await onDisk('fresh.txt')).toString()).toBe('first');
    c.close();
  });

  it('REST + RETR resumes a download; the offset is used once', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('REST 1000', 350, /^350 Restarting at 1000\. Send STORE or RETRIEVE\.$/);
    expect((await download(c, 'RETR all.bin')).equals(bytes.subarray(1000))).toBe(true);
    expect((await download(c, 'RETR all.bin')).equals(bytes)).toBe(true);
    await c.expectCmd('REST', 501);
    await c.expectCmd('REST -5', 501, /^501 REST needs a byte offset\.$/);
    await c.expectCmd('REST abc', 501, /^501 REST needs a byte offset\.$/);
    c.close();
  });

  it('REST at the end + RETR sends nothing; past the end is 554', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd(`REST ${bytes.length}`, 350);
    expect((await download(c, 'RETR all.bin')).length).toBe(0);
    await c.expectCmd(`REST ${bytes.length + 1}`, 350);
    await c.epsv();
    await c.expectCmd('RETR all.bin', 554, /^554 Invalid restart position: past the end of the file\.$/);
    c.close();
  });

  it('REST + STOR resumes an upload: data is written from the offset, the rest is cut', async () => {
    await writeFile(join(t.root, 'partial.bin'), bytes.subarray(0, 5000));
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('REST 3000', 350);
    await upload(c, 'STOR partial.bin', bytes.subarray(3000));
    expect((await onDisk('partial.bin')).equals(bytes)).toBe(true);
    // Consumed: the next STOR replaces.
    await upload(c, 'STOR partial.bin', 'short');
    expect((await onDisk('partial.bin')).toString()).toBe('short');
    c.close();
  });

  it('REST past the end of the file + STOR: 554, nothing changes', async () => {
    await writeFile(join(t.root, 'small.txt'), 'abc');
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('REST 10', 350);
    await c.epsv();
    await c.expectCmd('STOR small.txt', 554, /^554 Invalid restart position: past the end of the file\.$/);
    expect((await onDisk('small.txt')).toString()).toBe('abc');
    c.close();
  });

  it('STOU stores under a new unique name and says which (150 FILE: name)', async () => {
    const c = await loggedIn(t, { binary: true });
    const first = await upload(c, 'STOU', 'unique 1');
    const name1 = /^150 FILE: (ftpsd\.[0-9a-f]{8})$/.exec(first.text)?.[1];
    expect(name1).toBeDefined();
    expect((await onDisk(name1!)).toString()).toBe('unique 1');
    const second = await upload(c, 'STOU', 'unique 2');
    const name2 = /^150 FILE: (\S+)$/.exec(second.text)![1]!;
    expect(name2).not.toBe(name1);
    expect((await onDisk(name2)).toString()).toBe('unique 2');
    c.close();
  });

  it('STOU with a name uses it when free and never overwrites', async () => {
    await writeFile(join(t.root, 'report.txt'), 'keep me');
    const c = await loggedIn(t, { binary: true });
    const free = await upload(c, 'STOU wanted.txt', 'w');
    expect(free.text).toBe('150 FILE: wanted.txt');
    const taken = await upload(c, 'STOU report.txt', 'other');
    const name = /^150 FILE: (report\.txt\.[0-9a-f]{8})$/.exec(taken.text)![1]!;
    expect((await onDisk(name)).toString()).toBe('other');
    expect((await onDisk('report.txt')).toString()).toBe('keep me');
    c.close();
  });
});

/**
 * RETR opens through `Storage.openRead` when the storage has it (LocalStorage, MemoryStorage), else
 * through `stat` then `read` (a wrapper without the shortcut, S3): the replies are the same either way.
 */
describe('RETR with and without the storage shortcut (openRead)', () => {
  for (const shortcut of [true, false]) {
    describe(shortcut ? 'LocalStorage.openRead' : 'stat then read (a ForwardingStorage, which has no openRead)', () => {
      let server: TestServer;
      let dir: string;
      let opens = 0;
      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'ftpsd-retr-'));
        await writeFile(join(dir, 'all.bin'), bytes);
        await mkdir(join(dir, 'adir'));
        const local = new LocalStorage(dir);
        const counted = local.openRead.bind(local);
        local.openRead = (path, options) => {
          opens++;
          return counted(path, options);
        };
        const storage = shortcut ? local : new ForwardingStorage(local);
        expect('openRead' in storage && typeof storage.openRead === 'function').toBe(shortcut);
        server = await startServer({ storage });
      });
      afterAll(async () => {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      });

      it('a file, a range of it, a directory, a missing file, REST past the end', async () => {
        const c = await loggedIn(server, { binary: true });
        expect((await download(c, 'RETR all.bin')).equals(bytes)).toBe(true);
        await c.expectCmd('REST 100', 350);
        expect((await download(c, 'RETR all.bin')).equals(bytes.subarray(100))).toBe(true);
        await c.expectCmd(`REST ${bytes.length}`, 350);
        expect((await download(c, 'RETR all.bin')).length).toBe(0);
        await c.epsv();
        await c.expectCmd('RETR adir', 550, /^550 Not a regular file\.$/);
        await c.epsv();
        await c.expectCmd('RETR nothere', 550, /^550 No such file or directory\.$/);
        await c.expectCmd(`REST ${bytes.length + 1}`, 350);
        await c.epsv();
        await c.expectCmd('RETR all.bin', 554, /^554 Invalid restart position: past the end of the file\.$/);
        c.close();
        expect(opens, 'openRead used only when the storage offers it').toBe(shortcut ? 6 : 0);
      });
    });
  }
});

describe('RETR: a subclass that overrides read is never bypassed by the inherited openRead', () => {
  /** Refuses every read: an embedder's audit or policy hook on `read`. */
  class NoReads extends LocalStorage {
    override async read(): Promise<never> {
      throw new StorageError('EACCES', 'reads refused');
    }
  }
  let server: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ftpsd-retr-'));
    await writeFile(join(dir, 'all.bin'), bytes);
    server = await startServer({ storage: new NoReads(dir) });
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('550 Permission denied, from its read', async () => {
    const c = await loggedIn(server, { binary: true });
    await c.epsv();
    await c.expectCmd('RETR all.bin', 550, /^550 Permission denied\.$/);
    c.close();
  });
});

