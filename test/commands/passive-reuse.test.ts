/**
 * One passive listener per session, reused by every PASV/EPSV (data/passive.ts): each arming takes
 * exactly one connection, only from the control connection's peer; between armings every connection is
 * closed at once; TLS data connections on a reused port must still resume the control session.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { download, loggedIn } from '../helpers/flows.js';
import { readAll, type RawClient } from '../helpers/raw-client.js';
import { serverForBlock } from '../helpers/block-server.js';

const body = 'reused listener';

function epsvPort(text: string): number {
  return Number(/\|\|\|(\d+)\|/.exec(text)![1]);
}

function pasvPort(text: string): number {
  const [p1, p2] = /,(\d+),(\d+)\)/.exec(text)!.slice(1).map(Number) as [number, number];
  return p1 * 256 + p2;
}

async function connectTo(port: number, localAddress?: string): Promise<Socket> {
  const s = connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Resolves with the bytes a connection got before the server closed it (fails after 3 s). */
async function closedByServer(s: Socket): Promise<number> {
  let bytes = 0;
  s.on('data', (d: Buffer) => (bytes += d.length));
  await Promise.race([once(s, 'close'), new Promise((_, reject) => setTimeout(() => reject(new Error('connection left open')), 3000))]);
  return bytes;
}

async function retrOn(c: RawClient, port: number): Promise<string> {
  const data = await connectTo(port);
  c.send('RETR file.txt');
  await c.expect(150);
  const got = (await readAll(data)).toString();
  await c.expect(226);
  return got;
}

describe('a session reuses its passive listener', () => {
  const t = serverForBlock({}, { 'file.txt': body });

  it('successive transfers get the same port; a connection between two armings is closed without a byte', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = epsvPort((await c.expectCmd('EPSV', 229)).text);
    expect(await retrOn(c, port)).toBe(body);
    // Not armed: nothing may connect and wait for the next transfer.
    const early = await connectTo(port);
    expect(await closedByServer(early)).toBe(0);
    const again = epsvPort((await c.expectCmd('EPSV', 229)).text);
    expect(again).toBe(port);
    expect(await retrOn(c, port)).toBe(body);
    c.close();
  });

  it('two PASV in a row: the same port; what connected for the first is closed, the second serves the transfer', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = pasvPort((await c.expectCmd('PASV', 227)).text);
    const first = await connectTo(port);
    const second = pasvPort((await c.expectCmd('PASV', 227)).text);
    expect(second).toBe(port);
    expect(await closedByServer(first)).toBe(0);
    expect(await retrOn(c, port)).toBe(body);
    c.close();
  });

  it('PASV then EPSV: one listener, the transfer goes over the EPSV arming', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = pasvPort((await c.expectCmd('PASV', 227)).text);
    expect(epsvPort((await c.expectCmd('EPSV', 229)).text)).toBe(port);
    expect(await retrOn(c, port)).toBe(body);
    c.close();
  });

  it('one connection per arming: a second connection from the peer is closed, the first gets the data', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = epsvPort((await c.expectCmd('EPSV', 229)).text);
    const data = await connectTo(port);
    const extra = await connectTo(port);
    expect(await closedByServer(extra)).toBe(0);
    c.send('RETR file.txt');
    await c.expect(150);
    expect((await readAll(data)).toString()).toBe(body);
    await c.expect(226);
    c.close();
  });

  it('ABOR while the transfer waits for its data connection: 426, 226; a late connection is closed; the next EPSV reuses the port', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = epsvPort((await c.expectCmd('EPSV', 229)).text);
    c.send('RETR file.txt');
    await c.expectCmd('STAT', 213, /^213 Transfer in progress: 0 bytes\.$/);
    c.send('ABOR');
    await c.expect(426, /^426 Transfer aborted\.$/);
    await c.expect(226, /^226 Abort successful\.$/);
    const late = await connectTo(port);
    expect(await closedByServer(late)).toBe(0);
    expect(epsvPort((await c.expectCmd('EPSV', 229)).text)).toBe(port);
    expect(await retrOn(c, port)).toBe(body);
    c.close();
  });

  it('PORT after PASV closes the listener (an active-mode client keeps no port); the next EPSV opens one again', async () => {
    const c = await loggedIn(t, { binary: true });
    const port = epsvPort((await c.expectCmd('EPSV', 229)).text);
    await c.expectCmd('PORT 127,0,0,1,200,10', 200);
    await expect(connectTo(port)).rejects.toThrow(/ECONNREFUSED/);
    const next = epsvPort((await c.expectCmd('EPSV', 229)).text);
    expect(await retrOn(c, next)).toBe(body);
    c.close();
  });

  // 127.0.0.2 is a second loopback address on Linux only.
  it.skipIf(process.platform !== 'linux')('a reused listener still refuses a connection from another address', async () => {
    const c = await loggedIn(t, { binary: true });
    expect((await download(c, 'RETR file.txt')).toString()).toBe(body);
    const port = epsvPort((await c.expectCmd('EPSV', 229)).text);
    const intruder = await connectTo(port, '127.0.0.2');
    expect(await closedByServer(intruder)).toBe(0);
    expect(await retrOn(c, port)).toBe(body);
    c.close();
  });
});

describe('a reused passive listener keeps the TLS session-reuse check', () => {
  const t = serverForBlock({}, { 'file.txt': body });

  it('the second data connection on the same port must resume the control session too (425 otherwise)', async () => {
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe(body);
    const port = epsvPort((await c.expectCmd('EPSV', 229)).text);
    const data = await connectTo(port);
    c.send('RETR file.txt');
    await c.expect(150);
    const tls = await c.protect(data, false).catch(() => undefined);
    if (tls) expect(tls.isSessionReused()).toBe(false);
    await c.expect(425, /^425 Data connection refused: TLS session reuse required/);
    // The same port again, resuming: served.
    expect(epsvPort((await c.expectCmd('EPSV', 229)).text)).toBe(port);
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe(body);
    c.close();
  });

  it("a data connection on the reused port that resumes another control connection's session: 425", async () => {
    const victim = await loggedIn(t, { auth: 'TLS', binary: true });
    const thief = await loggedIn(t, { auth: 'TLS', binary: true });
    await thief.expectCmd('PROT P', 200);
    expect((await download(thief, 'RETR file.txt', { tls: true })).toString()).toBe(body);
    const data = await thief.epsv();
    thief.send('RETR file.txt');
    await thief.expect(150);
    const tls = tlsConnect({ socket: data, rejectUnauthorized: false, servername: 'localhost', session: victim.session! });
    tls.on('error', () => {});
    await Promise.race([once(tls, 'secureConnect'), once(tls, 'close')]).catch(() => {});
    await thief.expect(425, /^425 Data connection refused: it resumed a TLS session other than the control connection's\.$/);
    victim.close();
    thief.close();
  });
});
