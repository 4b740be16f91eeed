/**
 * RETR STOR APPE STOU REST ABOR, TYPE A conversion, STAT and QUIT during a transfer, and uploads that
 * fail without harming the file they would have replaced.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allBytes, download, loggedIn, upload } from '../helpers/flows.js';
import { readAll, writeAll } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import type { VirtualPath } from '../../src/storage/virtual-path.js';

describe('transfers', () => {
  let t: TestServer;
  const bytes = allBytes();
  const big = Buffer.alloc(24 * 1024 * 1024, 0x61);
  beforeAll(async () => {
    t = await startServer();
    await writeFile(join(t.root, 'all.bin'), bytes);
    await writeFile(join(t.root, 'big.bin'), big);
  });
  afterAll(() => t.close());

  const onDisk = (name: string) => readFile(join(t.root, name));

  /** A logged-in client, and a promise for the end of its server session. */
  async function tracked(): Promise<{ c: Awaited<ReturnType<typeof loggedIn>>; ended: Promise<void> }> {
    const before = new Set(t.server.sessions.keys());
    const c = await loggedIn(t, { binary: true });
    const id = [...t.server.sessions.keys()].find((k) => !before.has(k))!;
    const ended = new Promise<void>((resolve) => {
      const onDisconnect = (info: { id: string }) => {
        if (info.id !== id) return;
        t.server.events.off('disconnect', onDisconnect);
        resolve();
      };
      t.server.events.on('disconnect', onDisconnect);
    });
    return { c, ended };
  }

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

  it('TYPE A: RETR turns LF into CRLF and leaves CRLF alone', async () => {
    await writeFile(join(t.root, 'unix.txt'), 'line 1\nline 2\r\nline 3\n\nend');
    const c = await loggedIn(t);
    await c.expectCmd('TYPE A', 200, /^200 Switching to ASCII mode\.$/);
    const got = await download(c, 'RETR unix.txt', { opening: /^150 Opening ASCII mode data connection for unix\.txt\.$/ });
    expect(got.toString()).toBe('line 1\r\nline 2\r\nline 3\r\n\r\nend');
    c.close();
  });

  it('TYPE A: RETR with a CRLF split across read chunks (256 KiB) does not double the CR', async () => {
    const chunk = 256 * 1024;
    const text = Buffer.alloc(chunk + 10, 0x78);
    text[chunk - 1] = 0x0d; // CR ends the first read
    text[chunk] = 0x0a; // LF starts the second
    text[chunk + 5] = 0x0a; // a bare LF
    await writeFile(join(t.root, 'boundary.txt'), text);
    const c = await loggedIn(t);
    const got = await download(c, 'RETR boundary.txt');
    const expected = Buffer.concat([text.subarray(0, chunk + 5), Buffer.from([0x0d]), text.subarray(chunk + 5)]);
    expect(got.length).toBe(expected.length);
    expect(got.equals(expected)).toBe(true);
    c.close();
  });

  it('TYPE A: STOR turns CRLF into LF, also when CR and LF arrive in different packets', async () => {
    const c = await loggedIn(t);
    const data = await c.epsv();
    data.setNoDelay(true);
    c.send('STOR dos.txt');
    await c.expect(150);
    data.write('a\r\nb\r');
    await sleep(30);
    data.write('\nc\rd\r');
    await sleep(30);
    data.end('\r\n');
    await c.expect(226);
    // CRLF -> LF; a lone CR stays; a CR before another CR stays.
    expect((await onDisk('dos.txt')).toString()).toBe('a\nb\nc\rd\r\n');
    c.close();
  });

  it('TYPE A: a trailing CR at the very end of an upload is kept', async () => {
    const c = await loggedIn(t);
    await upload(c, 'STOR cr.txt', 'x\r\ny\r');
    expect((await onDisk('cr.txt')).toString()).toBe('x\ny\r');
    c.close();
  });

  it('TYPE A round trip: STOR then RETR gives back the network form', async () => {
    const c = await loggedIn(t);
    await upload(c, 'STOR round.txt', 'alpha\r\nbeta\r\n');
    expect((await onDisk('round.txt')).toString()).toBe('alpha\nbeta\n');
    expect((await download(c, 'RETR round.txt')).toString()).toBe('alpha\r\nbeta\r\n');
    await c.expectCmd('TYPE I', 200);
    expect((await download(c, 'RETR round.txt')).toString()).toBe('alpha\nbeta\n');
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

  it('ABOR with no transfer: 225', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('ABOR', 225, /^225 No transfer to abort\.$/);
    c.close();
  });

  it('ABOR during a long RETR: 426 for the transfer, then 226 for the ABOR', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    data.pause(); // read nothing: the transfer cannot end on its own
    c.send('RETR big.bin');
    await c.expect(150);
    await c.expectCmd('STAT', 213, /^213 Transfer in progress: \d+ bytes\.$/);
    c.send('ABOR');
    await c.expect(426, /^426 Transfer aborted\.$/);
    await c.expect(226, /^226 Abort successful\.$/);
    data.resume();
    const got = await readAll(data);
    expect(got.length).toBeLessThan(big.length);
    // The session goes on.
    expect((await download(c, 'RETR all.bin')).equals(bytes)).toBe(true);
    c.close();
  });

  it('ABOR while the transfer still waits for its data connection: 426 then 226', async () => {
    const c = await loggedIn(t, { binary: true });
    const r = await c.expectCmd('EPSV', 229);
    const port = Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
    c.send('RETR all.bin');
    await c.expectCmd('STAT', 213, /^213 Transfer in progress: 0 bytes\.$/);
    c.send('ABOR');
    await c.expect(426, /^426 Transfer aborted\.$/);
    await c.expect(226, /^226 Abort successful\.$/);
    // The passive port is closed.
    const late = connect({ port, host: '127.0.0.1' });
    const refused = await new Promise<boolean>((resolve) => {
      late.once('error', () => resolve(true));
      late.once('connect', () => late.once('close', () => resolve(true)).resume());
    });
    expect(refused).toBe(true);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('ABOR sent the way ftp clients do (Telnet IP and Synch first) aborts a RETR', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    data.pause();
    c.send('RETR big.bin');
    await c.expect(150);
    c.write(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('ABOR\r\n')]));
    await c.expect(426, /^426 Transfer aborted\.$/);
    await c.expect(226, /^226 Abort successful\.$/);
    data.destroy();
    c.close();
  });

  it('ABOR during STOR: 426 then 226, and the existing file keeps its content', async () => {
    await writeFile(join(t.root, 'precious.txt'), 'original');
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('STOR precious.txt');
    await c.expect(150);
    data.write(Buffer.alloc(100_000, 0x41));
    await c.expectCmd('STAT', 213, /^213 Transfer in progress: \d+ bytes\.$/);
    c.send('ABOR');
    await c.expect(426, /^426 Transfer aborted\.$/);
    await c.expect(226, /^226 Abort successful\.$/);
    data.destroy();
    expect((await onDisk('precious.txt')).toString()).toBe('original');
    expect((await readdir(t.root)).filter((n) => n.startsWith('.ftpsd-upload-'))).toEqual([]);
    c.close();
  });

  it('a STOR whose data connection breaks (RST): 426, the existing file keeps its content', async () => {
    await writeFile(join(t.root, 'precious2.txt'), 'original 2');
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('STOR precious2.txt');
    await c.expect(150);
    data.write(Buffer.alloc(50_000, 0x42));
    await sleep(20);
    data.resetAndDestroy();
    await c.expect(426, /^426 Data connection reset; transfer aborted\.$/);
    expect((await onDisk('precious2.txt')).toString()).toBe('original 2');
    expect((await readdir(t.root)).filter((n) => n.startsWith('.ftpsd-upload-'))).toEqual([]);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('the control connection closing during a STOR: the upload is aborted at once, even if the data then ends cleanly (issue 20)', async () => {
    await writeFile(join(t.root, 'late-old.txt'), 'old content');
    for (const name of ['late.txt', 'late-old.txt']) {
      const { c, ended } = await tracked();
      const data = await c.epsv();
      c.send(`STOR ${name}`);
      await c.expect(150);
      data.write('first half, ');
      c.close();
      await ended; // the session is over before the data connection ends
      data.on('error', () => {});
      data.end('second half');
      await sleep(50);
      data.destroy();
    }
    await expect(onDisk('late.txt')).rejects.toThrow(/ENOENT/);
    expect((await onDisk('late-old.txt')).toString()).toBe('old content');
    expect((await readdir(t.root)).filter((n) => n.startsWith('.ftpsd-upload-'))).toEqual([]);
  });

  it('the control connection closing, then the data connection breaking: the existing file keeps its content', async () => {
    await writeFile(join(t.root, 'precious3.txt'), 'original 3');
    const { c, ended } = await tracked();
    const data = await c.epsv();
    c.send('STOR precious3.txt');
    await c.expect(150);
    data.write(Buffer.alloc(50_000, 0x43));
    c.close();
    await sleep(20);
    data.resetAndDestroy();
    await ended;
    expect((await onDisk('precious3.txt')).toString()).toBe('original 3');
    expect((await readdir(t.root)).filter((n) => n.startsWith('.ftpsd-upload-'))).toEqual([]);
  });

  it('STAT during a transfer reports the bytes so far (213)', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('RETR big.bin');
    await c.expect(150);
    const [first] = (await once(data, 'data')) as [Buffer]; // bytes are on their way
    data.pause();
    const stat = await c.expectCmd('STAT', 213, /^213 Transfer in progress: \d+ bytes\.$/);
    expect(Number(/(\d+) bytes/.exec(stat.text)![1])).toBeGreaterThanOrEqual(first.length);
    const reading = readAll(data);
    data.resume();
    expect(first.length + (await reading).length).toBe(big.length);
    await c.expect(226);
    c.close();
  });

  it('QUIT during a transfer: the transfer ends (226), then 221 and the connection closes', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    data.pause();
    c.send('RETR big.bin');
    await c.expect(150);
    c.send('QUIT');
    const reading = readAll(data);
    data.resume();
    expect((await reading).length).toBe(big.length);
    await c.expect(226, /^226 Transfer complete\.$/);
    await c.expect(221, /^221 Goodbye\.$/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('other commands wait for the running transfer', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    data.pause();
    c.send('RETR big.bin');
    await c.expect(150);
    c.send('PWD');
    const reading = readAll(data);
    data.resume();
    await reading;
    await c.expect(226);
    await c.expect(257);
    c.close();
  });

  it('closing the data connection early during RETR: 426', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('RETR big.bin');
    await c.expect(150);
    await once(data, 'data');
    data.destroy();
    await c.expect(426, /^426 Connection closed; transfer aborted\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });
});

describe('ABOR while the file is still being opened', () => {
  let t: TestServer;
  let gate: () => void = () => {};
  beforeAll(async () => {
    const memory = new MemoryStorage({ 'slow.txt': 'slow to open' });
    // stat() waits until the test opens the gate, so ABOR arrives before the data connection is set up.
    const storage: Storage = Object.assign(Object.create(memory) as MemoryStorage, {
      stat: async (p: VirtualPath) => {
        if (p[0] === 'slow.txt') await new Promise<void>((resolve) => (gate = resolve));
        return memory.stat(p);
      },
    });
    t = await startServer({ storage, timeouts: { dataConnectMs: 20_000 } });
  });
  afterAll(() => t.close());

  it('does not wait for a data connection that will never come: 426 then 226 at once', async () => {
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('EPSV', 229);
    c.send('RETR slow.txt');
    await c.expectCmd('STAT', 213, /^213 Transfer in progress: 0 bytes\.$/);
    c.send('ABOR');
    await new Promise((r) => setTimeout(r, 20)); // let ABOR reach the server
    gate();
    const r = await c.reply(5000);
    expect(r.text).toBe('426 Transfer aborted.');
    await c.expect(226, /^226 Abort successful\.$/);
    c.close();
  });
});

