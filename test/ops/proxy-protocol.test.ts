/**
 * PROXY protocol on a real server, with raw clients that send the header themselves (as HAProxy would;
 * test/ops/proxy-haproxy.test.ts runs HAProxy itself). Loopback addresses stand for networks: clients
 * connecting from 127.0.0.1 are the trusted proxy, the addresses in their headers (127.0.0.5, ...) are
 * the real clients, and data connections come straight from those addresses, as they would from a
 * client behind a TCP proxy.
 */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../src/events.js';
import { formatV1, formatV2 } from '../../src/proxy/proxy-protocol.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { viaHeader } from './service-helpers.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { until } from '../helpers/poll.js';
import { serverForBlock } from '../helpers/block-server.js';

const REAL = '127.0.0.5';

function v1(port: number, source = REAL): Buffer {
  return formatV1({ address: source, port: 40001 }, { address: '127.0.0.1', port });
}

function v2(port: number, source = REAL): Buffer {
  return formatV2({ source: { address: source, port: 40002 }, destination: { address: '127.0.0.1', port } });
}

/** Whether `s` closes within `ms` (a bound for a hang, not a timing check). */
async function closedWithin(s: Socket, ms = 10_000): Promise<boolean> {
  if (s.closed) return true;
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([once(s, 'close').then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return closed;
}

async function statFrom(c: RawClient): Promise<string> {
  const r = await c.cmd('STAT');
  expect(r.code).toBe(211);
  return /Connected from (\S+)/.exec(r.text)![1]!;
}

describe('PROXY protocol from a trusted proxy', () => {
  let t: TestServer;
  let log: CapturedLog;
  const connects: SessionInfo[] = [];
  const clients: RawClient[] = [];
  const track = (c: RawClient) => (clients.push(c), c);

  beforeAll(async () => {
    log = captureLog();
    t = await startServer({
      implicit: true,
      proxyProtocol: ['127.0.0.1/32'],
      logger: log.logger,
      security: { deny: ['127.0.0.66/32'], ban: { failures: 2 } },
      limits: { loginFailureDelayMs: 10, maxSessionsPerAddress: 2 },
    });
    t.server.events.on('connect', (info) => connects.push(info));
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => t.close());

  it('v1: the real client address is the session address (STAT, events, logs)', async () => {
    const c = track(await viaHeader(t.port, v1(t.port)));
    expect(await statFrom(c)).toBe(REAL);
    expect(connects.at(-1)?.remoteAddress).toBe(REAL);
    await until(() => log.find('connect').some((l) => l.peer === REAL && l.proxy === '127.0.0.1'), 'the connect log line');
    await c.login(USER, PASS);
  });

  it('v2 before the TLS handshake on the implicit port', async () => {
    const c = track(await viaHeader(t.implicitPort!, v2(t.implicitPort!, '127.0.0.6'), { implicit: true }));
    expect(await statFrom(c)).toBe('127.0.0.6');
    expect(c.socket).not.toBe(c.raw); // TLS is on
  });

  it('bytes sent right behind the header are not lost', async () => {
    const c = track(await viaHeader(t.port, v1(t.port), { after: Buffer.from('NOOP\r\n') }));
    await c.expect(200);
  });

  it('PROXY UNKNOWN and v2 LOCAL: the proxy speaks for itself', async () => {
    const a = track(await viaHeader(t.port, Buffer.from('PROXY UNKNOWN\r\n')));
    expect(await statFrom(a)).toBe('127.0.0.1');
    const b = track(await viaHeader(t.port, formatV2()));
    expect(await statFrom(b)).toBe('127.0.0.1');
  });

  it('a malformed header closes the connection, with a log line', async () => {
    const c = track(await viaHeader(t.port, Buffer.from('PROXY TCP4 127.0.0.5 127.0.0.1 1 99999\r\n'), { greeting: false }));
    expect(await c.waitClosed()).toBe(true);
    await until(() => log.find('PROXY header refused; closing').some((l) => /port/.test(String(l.reason))), 'the refusal log line');
  });

  it('access lists, session caps and bans apply to the real address, not the proxy', async () => {
    // Denied: one plaintext 421 and closed, though the proxy itself is allowed.
    const denied = track(await viaHeader(t.port, v1(t.port, '127.0.0.66'), { greeting: false }));
    await denied.expect(421, /Access denied/);
    // Two sessions from one real address (the cap) and more from others, all through the one proxy.
    const a1 = track(await viaHeader(t.port, v1(t.port, '127.0.0.20')));
    const a2 = track(await viaHeader(t.port, v1(t.port, '127.0.0.20')));
    const b1 = track(await viaHeader(t.port, v1(t.port, '127.0.0.21')));
    const a3 = track(await viaHeader(t.port, v1(t.port, '127.0.0.20'), { greeting: false }));
    await a3.expect(421, /from your address/);
    for (const c of [a1, a2, b1]) await c.expectCmd('NOOP', 200);
    // Failed logins ban the real address only.
    for (const c of [a1, a2]) {
      await c.expectCmd(`USER ${USER}`, 331);
      await c.expectCmd('PASS wrong', 530);
    }
    expect(t.server.throttle?.bannedUntil('127.0.0.20')).toBeDefined();
    expect(t.server.throttle?.bannedUntil('127.0.0.1')).toBeUndefined();
    await b1.login(USER, PASS);
  });

  it('passive data connections must come from the real client, straight (not through the proxy)', async () => {
    const c = track(await viaHeader(t.port, v1(t.port)));
    await c.login(USER, PASS);
    const r = await c.expectCmd('PASV', 227);
    const n = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r.text)!.slice(1).map(Number);
    // The advertised address is the one the client connected to (the header's destination).
    expect(n.slice(0, 4).join('.')).toBe('127.0.0.1');
    const port = n[4]! * 256 + n[5]!;
    // From the proxy's address: refused (that is not where this client's data comes from).
    const foreign = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.1' });
    foreign.on('error', () => {});
    expect(await closedWithin(foreign)).toBe(true);
    await until(() => log.find('refused a data connection from a foreign address').length > 0, 'the foreign-peer log line');
    // From the real client: the listing arrives.
    const data = connect({ port, host: '127.0.0.1', localAddress: REAL });
    data.on('error', () => {});
    c.send('NLST');
    await c.expect(150);
    await readAll(data);
    await c.expect(226);
  });

  it('PORT and EPRT must name the real client, whom the server then connects to', async () => {
    const c = track(await viaHeader(t.port, v1(t.port)));
    await c.login(USER, PASS);
    await c.expectCmd('PORT 127,0,0,1,200,10', 501, /your own address/);
    await c.expectCmd('EPRT |1|127.0.0.1|51210|', 501, /your own address/);
    const listener = createServer();
    await new Promise<void>((r) => listener.listen(0, REAL, () => r()));
    const { port } = listener.address() as { port: number };
    const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
    await c.expectCmd(`EPRT |1|${REAL}|${port}|`, 200);
    c.send('NLST');
    await c.expect(150);
    const data = await accepted;
    await readAll(data);
    await c.expect(226);
    listener.close();
  });
});

describe('PROXY protocol: who must (not) send a header', () => {
  const log = captureLog();
  // Only 127.0.0.9 is a proxy; 127.0.0.1 is an ordinary client. A short header deadline.
  const t = serverForBlock({ implicit: true, proxyProtocol: ['127.0.0.9/32'], logger: log.logger, timeouts: { handshakeMs: 300 } });

  it('a client that is not a trusted proxy works as usual', async () => {
    const c = await RawClient.connect(t.port);
    expect(await statFrom(c)).toBe('127.0.0.1');
    await c.login(USER, PASS);
    c.close();
  });

  it('a header from an address that is not a trusted proxy is refused: closed and logged', async () => {
    const c = await RawClient.connect(t.port);
    c.write(v1(t.port, '127.0.0.99'));
    expect(await c.waitClosed()).toBe(true);
    await until(() => log.find(/not a trusted proxy/).some((l) => l.peer === '127.0.0.1'), 'the refusal log line');
    const c2 = await RawClient.connect(t.port);
    c2.write(v2(t.port, '127.0.0.99'));
    expect(await c2.waitClosed()).toBe(true);
    expect(t.server.sessions.size).toBe(0);
  });

  it('also on the implicit port, before TLS', async () => {
    const s = connect({ port: t.implicitPort!, host: '127.0.0.1' });
    s.on('error', () => {});
    await once(s, 'connect');
    s.write(v2(t.implicitPort!, '127.0.0.99'));
    expect(await closedWithin(s)).toBe(true);
    await until(() => log.find(/not a trusted proxy/).length >= 3, 'the refusal log line');
  });

  it('a trusted proxy that sends no header in time is closed', async () => {
    const c = await RawClient.connect(t.port, '127.0.0.1', { localAddress: '127.0.0.9', greeting: false });
    expect(await c.waitClosed(10_000)).toBe(true);
    await until(() => log.find('PROXY header refused; closing').some((l) => /no PROXY header within/.test(String(l.reason))), 'the log line');
  });

  it('a trusted proxy that starts a TLS handshake instead of a header is closed', async () => {
    const s = connect({ port: t.implicitPort!, host: '127.0.0.1', localAddress: '127.0.0.9' });
    s.on('error', () => {});
    const tls = tlsConnect({ socket: s, rejectUnauthorized: false });
    tls.on('error', () => {});
    expect(await closedWithin(s)).toBe(true);
    await until(() => log.find('PROXY header refused; closing').some((l) => /not a PROXY/.test(String(l.reason))), 'the log line');
  });
});
