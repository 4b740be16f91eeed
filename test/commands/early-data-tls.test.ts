/**
 * The early handshake of passive protected data connections (src/data/early-tls.ts): a client that
 * starts TLS on the data connection before its transfer command (curl does) gets its handshake at once,
 * and the transfer then runs over it; the hostile variants get a clear reply and leave nothing behind.
 * curl itself: test/e2e/curl.test.ts.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Receiver } from '../../src/data/receive-file.js';
import { setUserBuffers } from '../../src/data/user-buffer.js';
import { allBytes, download, loggedIn } from '../helpers/flows.js';
import { RawClient, readAll, writeAll } from '../helpers/raw-client.js';
import { serverForBlock } from '../helpers/block-server.js';
import type { TlsHandshakeEvent } from '../../src/events.js';

/** Rejects after `ms`: every wait of these tests is bounded. */
function within<T>(p: Promise<T>, ms = 5000, what = 'wait'): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))]);
}

/** The client's TLS handshake on the data connection, done before any transfer command is sent. */
function handshakeFirst(c: RawClient, data: Socket, resume = true): Promise<TLSSocket> {
  return within(c.protect(data, resume), 5000, 'TLS handshake before the transfer command');
}

async function protectedSession(t: { port: number; host: string }): Promise<RawClient> {
  const c = await loggedIn(t as Parameters<typeof loggedIn>[0], { auth: 'TLS', binary: true });
  await c.expectCmd('PROT P', 200);
  return c;
}

/** What is left to read on `s` until it ends or closes (also when it already closed). */
function rest(s: Socket | TLSSocket): Promise<Buffer> {
  if (s.destroyed) return Promise.resolve(Buffer.alloc(0));
  return within(readAll(s), 5000, 'the server closing the data connection');
}

/** Resolves true once the server closed `s` (waits up to 5 s). */
async function closedByServer(s: Socket): Promise<boolean> {
  if (s.destroyed) return true;
  s.resume();
  // A reset (unread bytes at the server's end) closes it too: 'error', then 'close'.
  await Promise.race([new Promise((r) => s.once('close', r)), new Promise((r) => setTimeout(r, 5000))]);
  return s.destroyed || s.readableEnded;
}

/** A real ClientHello, as the first write of a TLS client. */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        resolve(Buffer.from(chunk));
        callback();
        setImmediate(() => client.destroy());
      },
    });
    const client = tlsConnect({ socket: wire as unknown as Socket, rejectUnauthorized: false, servername: 'localhost' });
    client.on('error', () => {});
  });
}

/** The first bytes of a ClientHello: a handshake record header announcing more than is sent. */
const HALF_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);

describe('early TLS on passive data connections', () => {
  const body = allBytes(3 * 1024 * 1024 + 17);
  const t = serverForBlock({ timeouts: { handshakeMs: 800 } }, { 'file.bin': body, 'small.txt': 'small' });
  const events: TlsHandshakeEvent[] = [];
  const onHandshake = (e: TlsHandshakeEvent) => {
    if (e.channel === 'data') events.push(e);
  };

  it('RETR: the handshake completes before RETR is sent; the file arrives whole, then 226', async () => {
    t.server.events.on('tls-handshake', onHandshake);
    events.length = 0;
    try {
      const c = await protectedSession(t);
      const data = await c.epsv();
      const tls = await handshakeFirst(c, data);
      expect(tls.isSessionReused()).toBe(true);
      c.send('RETR file.bin');
      await c.expect(150);
      expect((await within(readAll(tls))).equals(body)).toBe(true);
      await c.expect(226, /^226 Transfer complete\.$/);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ ok: true, resumed: true });
      c.close();
    } finally {
      t.server.events.off('tls-handshake', onHandshake);
    }
  });

  it('STOR: the upload is committed on close_notify (226), byte-identical, through the user-buffer path', async () => {
    const adopted = vi.spyOn(Receiver, 'adoptTls');
    try {
      const c = await protectedSession(t);
      const data = await c.epsv();
      const tls = await handshakeFirst(c, data);
      c.send('STOR early-up.bin');
      await c.expect(150);
      await writeAll(tls, body);
      await c.expect(226, /^226 Transfer complete\.$/);
      expect((await readFile(join(t.root, 'early-up.bin'))).equals(body)).toBe(true);
      // Nothing was buffered before the transfer: the early TLS socket was taken by the fast path.
      expect(adopted.mock.results.map((r) => r.value !== undefined)).toEqual([true]);
      c.close();
    } finally {
      adopted.mockRestore();
    }
  });

  it('STOR cut by a reset: 426, and no file under the final name', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    c.send('STOR early-reset.bin');
    await c.expect(150);
    await new Promise<void>((resolve) => tls.write(body.subarray(0, 256 * 1024), () => resolve()));
    data.resetAndDestroy();
    await c.expect(426, /^426 Data connection reset; transfer aborted\.$/);
    expect(existsSync(join(t.root, 'early-reset.bin'))).toBe(false);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('STOR ended by a FIN without close_notify: 426, and no file', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    c.send('STOR early-fin.bin');
    await c.expect(150);
    await new Promise<void>((resolve) => tls.write(body.subarray(0, 64 * 1024), () => resolve()));
    data.end(); // TCP FIN under TLS, no close_notify
    await c.expect(426, /^426 Data connection closed without TLS close_notify; transfer aborted\.$/);
    expect(existsSync(join(t.root, 'early-fin.bin'))).toBe(false);
    c.close();
  });

  it('MLSD and LIST run over an early handshake', async () => {
    const c = await protectedSession(t);
    for (const [cmd, expected] of [
      ['MLSD', /;\s?small\.txt\r\n/],
      ['LIST', /small\.txt\r\n/],
    ] as const) {
      const data = await c.epsv();
      const tls = await handshakeFirst(c, data);
      c.send(cmd);
      await c.expect(150);
      expect((await within(readAll(tls))).toString()).toMatch(expected);
      await c.expect(226);
    }
    c.close();
  });

  it('the command first (lftp, ftplib): the handshake after the 150 works as before', async () => {
    const c = await protectedSession(t);
    expect((await download(c, 'RETR small.txt', { tls: true })).toString()).toBe('small');
    c.close();
  });

  it('a data connection that does not resume is still refused under session-reuse require (425)', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await within(c.protect(data, false).catch(() => undefined));
    if (tls) expect(tls.isSessionReused()).toBe(false);
    c.send('RETR small.txt');
    await c.expect(150);
    await c.expect(425, /^425 Data connection refused: TLS session reuse required \(resume the control connection's TLS session\)\.$/);
    expect((await download(c, 'RETR small.txt', { tls: true })).toString()).toBe('small');
    c.close();
  });

  it('junk instead of a ClientHello: 425 at the transfer, and the session goes on', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    data.write('GET / HTTP/1.0\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    c.send('RETR small.txt');
    await c.expect(150);
    await c.expect(425, /^425 TLS handshake on the data connection failed\.$/);
    expect(await closedByServer(data)).toBe(true);
    expect((await download(c, 'RETR small.txt', { tls: true })).toString()).toBe('small');
    c.close();
  });

  it('half a ClientHello, then nothing: 425 after the handshake timeout, counted from the transfer', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    data.write(HALF_HELLO);
    c.send('RETR small.txt');
    await c.expect(150);
    await c.expect(425, /^425 TLS handshake on the data connection timed out\.$/);
    expect(await closedByServer(data)).toBe(true);
    c.close();
  });

  it('nothing at all after connecting: 425 after the handshake timeout', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    c.send('RETR small.txt');
    await c.expect(150);
    await c.expect(425, /^425 TLS handshake on the data connection timed out\.$/);
    expect(await closedByServer(data)).toBe(true);
    c.close();
  });

  it('a ClientHello, then the client goes: 425 at the transfer', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    data.write(await clientHello());
    // The server's first flight means it read the ClientHello and answered early; then the client goes.
    await within(once(data, 'data'));
    data.destroy();
    c.send('RETR small.txt');
    await c.expect(150);
    await c.expect(425, /^425 TLS handshake on the data connection failed\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('ABOR while the early handshake waits: 225, the data connection is closed', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    data.write(HALF_HELLO);
    await new Promise((r) => setTimeout(r, 50));
    await c.expectCmd('ABOR', 225);
    expect(await closedByServer(data)).toBe(true);
    expect((await download(c, 'RETR small.txt', { tls: true })).toString()).toBe('small');
    c.close();
  });

  it('ABOR after an early handshake, before the command: the TLS connection is closed', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    await c.expectCmd('ABOR', 225);
    expect((await rest(tls)).length).toBe(0);
    expect(await closedByServer(data)).toBe(true);
    c.close();
  });

  it('QUIT during the early handshake: 221, the data connection is closed', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    data.write(HALF_HELLO);
    await new Promise((r) => setTimeout(r, 50));
    await c.expectCmd('QUIT', 221);
    expect(await closedByServer(data)).toBe(true);
    c.close();
  });

  it('a second EPSV before the command closes the first connection; the second one works', async () => {
    const c = await protectedSession(t);
    const first = await c.epsv();
    const firstTls = await handshakeFirst(c, first);
    const second = await c.epsv();
    expect((await rest(firstTls)).length).toBe(0);
    expect(await closedByServer(first)).toBe(true);
    const tls = await handshakeFirst(c, second);
    c.send('RETR small.txt');
    await c.expect(150);
    expect((await within(readAll(tls))).toString()).toBe('small');
    await c.expect(226);
    c.close();
  });

  it('a RETR of a missing file closes the early connection (550)', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    await c.expectCmd('RETR missing.bin', 550);
    expect((await rest(tls)).length).toBe(0);
    expect(await closedByServer(data)).toBe(true);
    c.close();
  });

  it('leaves no temporary upload files behind', async () => {
    const names = await readdir(t.root);
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
    await writeFile(join(t.root, 'done.txt'), '');
  });
});

describe('early TLS, then PROT C (dataProtection optional)', () => {
  const t = serverForBlock({ dataProtection: 'optional' }, { 'small.txt': 'small' });

  it('EPSV, TLS started, then PROT C and RETR: 425, no clear data over it', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    await c.expectCmd('PROT C', 200);
    c.send('RETR small.txt');
    await c.expect(150);
    await c.expect(425, /^425 Data connection refused: it started TLS, but PROT C is in force\.$/);
    expect((await rest(tls)).length).toBe(0);
    expect((await download(c, 'RETR small.txt')).toString()).toBe('small');
    c.close();
  });

  it('EPSV under PROT P, nothing sent, then PROT C and RETR: the file in clear', async () => {
    const c = await protectedSession(t);
    const data = await c.epsv();
    await c.expectCmd('PROT C', 200);
    c.send('RETR small.txt');
    await c.expect(150);
    expect((await within(readAll(data))).toString()).toBe('small');
    await c.expect(226);
    c.close();
  });
});

/** STOR of `body` over an early handshake, ended with close_notify: 226 and the file, byte-identical. */
async function earlyStor(t: { port: number; host: string; root: string }, name: string, body: Buffer, ascii = false): Promise<void> {
  const c = await protectedSession(t);
  if (ascii) await c.expectCmd('TYPE A', 200);
  const data = await c.epsv();
  const tls = await handshakeFirst(c, data);
  c.send(`STOR ${name}`);
  await c.expect(150);
  await writeAll(tls, body);
  await c.expect(226, /^226 Transfer complete\.$/);
  c.close();
}

describe('early TLS uploads on the stream path (native TLS socket fed by the TCP socket)', () => {
  const t = serverForBlock({ limits: { sessionUploadBytesPerSecond: 4 * 1024 * 1024 } }, {});
  const u = serverForBlock({}, {});

  it('a bandwidth-limited STOR: 226, byte-identical, not through the user-buffer path', async () => {
    const adopted = vi.spyOn(Receiver, 'adoptTls');
    try {
      const body = allBytes(1024 * 1024 + 5);
      await earlyStor(t, 'limited.bin', body);
      expect((await readFile(join(t.root, 'limited.bin'))).equals(body)).toBe(true);
      expect(adopted).not.toHaveBeenCalled();
    } finally {
      adopted.mockRestore();
    }
  });

  it('a TYPE A STOR: CRLF becomes LF, 226', async () => {
    const line = 'early ascii line\r\n';
    await earlyStor(u, 'ascii.txt', Buffer.from(line.repeat(20_000)), true);
    expect(await readFile(join(u.root, 'ascii.txt'), 'latin1')).toBe('early ascii line\n'.repeat(20_000));
  });

  it('a TYPE A STOR ended by a FIN without close_notify: 426, and no file', async () => {
    const c = await protectedSession(u);
    await c.expectCmd('TYPE A', 200);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    c.send('STOR ascii-fin.txt');
    await c.expect(150);
    await new Promise<void>((resolve) => tls.write('a line\r\n'.repeat(10_000), () => resolve()));
    data.end();
    await c.expect(426, /^426 Data connection closed without TLS close_notify; transfer aborted\.$/);
    expect(existsSync(join(u.root, 'ascii-fin.txt'))).toBe(false);
    c.close();
  });
});

describe('early TLS uploads where Node offers no user buffers (the pipe wrapping)', () => {
  const t = serverForBlock({}, {});
  const body = allBytes(2 * 1024 * 1024 + 3);
  beforeAll(() => setUserBuffers(false));
  afterAll(() => setUserBuffers(true));

  it('STOR with close_notify: 226, byte-identical, on the stream path', async () => {
    const adopted = vi.spyOn(Receiver, 'adoptTls');
    try {
      await earlyStor(t, 'pipe-up.bin', body);
      expect((await readFile(join(t.root, 'pipe-up.bin'))).equals(body)).toBe(true);
      expect(adopted.mock.results.map((r) => r.value !== undefined)).toEqual([false]);
    } finally {
      adopted.mockRestore();
    }
  });

  it('RETR: the file arrives whole, then 226', async () => {
    await writeFile(join(t.root, 'pipe-down.bin'), body);
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    c.send('RETR pipe-down.bin');
    await c.expect(150);
    expect((await within(readAll(tls))).equals(body)).toBe(true);
    await c.expect(226);
    c.close();
  });

  it('STOR cut by a reset, or ended by a FIN without close_notify: 426, no file', async () => {
    for (const ending of ['reset', 'fin'] as const) {
      const c = await protectedSession(t);
      const data = await c.epsv();
      const tls = await handshakeFirst(c, data);
      c.send(`STOR pipe-${ending}.bin`);
      await c.expect(150);
      await new Promise<void>((resolve) => tls.write(body.subarray(0, 256 * 1024), () => resolve()));
      if (ending === 'reset') data.resetAndDestroy();
      else data.end();
      await c.expect(426, ending === 'reset' ? /^426 Data connection reset; transfer aborted\.$/ : /^426 Data connection closed without TLS close_notify; transfer aborted\.$/);
      expect(existsSync(join(t.root, `pipe-${ending}.bin`))).toBe(false);
      c.close();
    }
  });
});

describe('early TLS uploads, uploads.requireCloseNotify: false', () => {
  const t = serverForBlock({ uploads: { requireCloseNotify: false } }, {});

  it('a FIN without close_notify completes the upload (226, every byte), through the user-buffer path; a reset does not', async () => {
    const body = allBytes(2 * 1024 * 1024 + 11);
    const adopted = vi.spyOn(Receiver, 'adoptTls');
    try {
      const c = await protectedSession(t);
      const data = await c.epsv();
      const tls = await handshakeFirst(c, data);
      c.send('STOR relaxed.bin');
      await c.expect(150);
      await new Promise<void>((resolve) => tls.write(body, () => resolve()));
      data.end(); // TCP FIN under TLS, no close_notify
      await c.expect(226, /^226 Transfer complete\.$/);
      expect((await readFile(join(t.root, 'relaxed.bin'))).equals(body)).toBe(true);
      expect(adopted.mock.results.map((r) => r.value !== undefined)).toEqual([true]);
      c.close();
    } finally {
      adopted.mockRestore();
    }
    const c = await protectedSession(t);
    const data = await c.epsv();
    const tls = await handshakeFirst(c, data);
    c.send('STOR relaxed-reset.bin');
    await c.expect(150);
    await new Promise<void>((resolve) => tls.write(body.subarray(0, 256 * 1024), () => resolve()));
    data.resetAndDestroy();
    await c.expect(426, /^426 Data connection reset; transfer aborted\.$/);
    expect(existsSync(join(t.root, 'relaxed-reset.bin'))).toBe(false);
    c.close();
  });
});
