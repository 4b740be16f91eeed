/**
 * Issue 21 item 7: idle connections that never log in filled `maxSessions` and locked every real login
 * out (421) for as long as the flooder kept them open. Connections not logged in now share a smaller
 * pool (`limits.maxUnauthenticated`, default a quarter of maxSessions); when it is full the oldest of
 * them is pushed out (421) for the new one, and logged-in sessions are never pushed out.
 * The figure with the defaults (1,000 flood connections from 40 addresses): scripts/prelogin-flood.ts.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/settings.js';
import { configSchema } from '../../src/config/schema.js';
import { download, upload } from '../helpers/flows.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { clientFrom, eventually } from './abuse-helpers.js';

interface FloodConnection {
  socket: Socket;
  text: string;
  closed: boolean;
}

/** Opens `n` idle connections (never a command) spread over `addresses` loopback addresses. */
async function flood(port: number, n: number, addresses: number): Promise<FloodConnection[]> {
  const out: FloodConnection[] = [];
  for (let i = 0; i < n; i++) {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.21.${1 + (i % addresses)}` });
    const c: FloodConnection = { socket, text: '', closed: false };
    socket.on('error', () => {});
    socket.on('data', (b: Buffer) => (c.text += b.toString()));
    socket.on('close', () => (c.closed = true));
    await new Promise<void>((resolve) => {
      socket.once('connect', () => resolve());
      socket.once('close', () => resolve());
    });
    out.push(c);
  }
  return out;
}

const PUSHED_OUT = '421 Too many connections waiting to log in (maxUnauthenticated); try again later.\r\n';

describe('limits.maxUnauthenticated', () => {
  it('defaults to a quarter of maxSessions (250 of 1000), follows maxSessions, and can be set', () => {
    expect(resolveSettings().limits.maxUnauthenticated).toBe(250);
    expect(resolveSettings({ limits: { maxSessions: 100 } }).limits.maxUnauthenticated).toBe(25);
    expect(resolveSettings({ limits: { maxSessions: 2 } }).limits.maxUnauthenticated).toBe(1);
    expect(resolveSettings({ limits: { maxSessions: 100, maxUnauthenticated: 60 } }).limits.maxUnauthenticated).toBe(60);
    expect(configSchema.safeParse({ limits: { maxUnauthenticated: 0 } }).success).toBe(false);
    expect(configSchema.safeParse({ limits: { maxUnauthenticated: 10 } }).success).toBe(true);
  });
});

describe('a flood of idle connections that never log in', () => {
  let t: TestServer;
  let flooders: FloodConnection[] = [];
  beforeAll(async () => {
    // 40 sessions, 10 of them for connections not logged in; per-address caps do not stop 8 addresses.
    t = await startServer({ limits: { maxSessions: 40, maxUnauthenticated: 10, maxSessionsPerAddress: 100 } });
  });
  afterAll(async () => {
    for (const f of flooders) f.socket.destroy();
    await t.close();
  });

  it('pushes out the oldest waiting connections (421) and keeps room for logins, transfers and logged-in sessions', async () => {
    const early = await clientFrom(t.port, '127.0.21.100');
    await early.login(USER, PASS);
    flooders = await flood(t.port, 120, 8);
    // Only the newest 10 are left; every other one got the 421 and was closed.
    expect(await eventually(async () => flooders.filter((f) => !f.closed).length === 10, 10_000, 50)).toBe(true);
    const pushed = flooders.filter((f) => f.closed);
    expect(pushed.length).toBe(110);
    for (const f of pushed) expect(f.text).toBe('220 ftpsd ready.\r\n' + PUSHED_OUT);
    expect(flooders.slice(-10).every((f) => !f.closed)).toBe(true);

    // A real client logs in and transfers while the flood is still there.
    const c = await clientFrom(t.port, '127.0.21.101');
    await c.login(USER, PASS);
    await c.expectCmd('TYPE I', 200);
    await upload(c, 'STOR during-flood.bin', 'uploaded during the flood');
    expect((await download(c, 'RETR during-flood.bin')).toString()).toBe('uploaded during the flood');

    // More flood: logged-in sessions (the early one, the new one) are never pushed out.
    flooders.push(...(await flood(t.port, 40, 8)));
    await early.expectCmd('NOOP', 200);
    await c.expectCmd('NOOP', 200);
    c.close();
    early.close();
  });
});
