/**
 * Transfers that end early: ABOR (before, during and while waiting for the data connection, the way ftp
 * clients send it), broken data and control connections during STOR (the existing file keeps its
 * content), a client closing its data connection during RETR.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, loggedIn } from '../helpers/flows.js';
import { readAll } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { Storage } from '../../src/storage/storage.js';
import type { VirtualPath } from '../../src/base/virtual-path.js';
import { big, bytes, onDisk, t, tracked, useTransferServer } from './transfer-fixture.js';

describe('aborted and broken transfers', () => {
  useTransferServer();

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
