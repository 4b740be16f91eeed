/**
 * Graceful shutdown on SIGTERM: no new sessions, 421 to idle ones, running transfers get the grace
 * period, then ftpsd exits 0 (it cuts what still runs).
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { ChildServer, killChildren, removeTempDirs } from './child-server.js';
import { BIG, plain, prepare, sleep } from './crash-helpers.js';
import { within } from './tls-helpers.js';

afterAll(async () => {
  killChildren();
  await removeTempDirs();
});

describe('graceful shutdown on SIGTERM', () => {
  afterEach(killChildren);

  /** A logged-in idle client and one whose download of big.bin waits while we hold its data socket. */
  async function setup(): Promise<{ s: ChildServer; idle: RawClient; busy: RawClient; data: Socket }> {
    const { args } = await prepare();
    const s = await ChildServer.start(args);
    const idle = await plain(s.port());
    const busy = await plain(s.port());
    const data = await busy.epsv();
    busy.send('RETR big.bin');
    await busy.expect(150);
    data.pause(); // the transfer stalls on backpressure until we read
    await sleep(300);
    return { s, idle, busy, data };
  }

  it('stops accepting, tells idle sessions 421, and lets a running download finish', async () => {
    const { s, idle, busy, data } = await setup();
    const port = s.port();
    s.signal('SIGTERM');
    await idle.expect(421, /shutting down/i);
    expect(await idle.waitClosed()).toBe(true);
    // No new sessions: refused or closed without a greeting.
    const late = netConnect({ port, host: '127.0.0.1' });
    let greeted = false;
    late.on('data', () => (greeted = true));
    late.on('error', () => {});
    await Promise.race([new Promise((r) => late.once('close', r)), sleep(5000)]);
    expect(greeted).toBe(false);
    // The download goes on and completes within the grace period.
    const body = await readAll((data.resume(), data));
    expect(body.length).toBe(BIG);
    await busy.expect(226);
    await busy.expect(421);
    const end = await within(s.exited, 20_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    expect(s.crash).toBeUndefined();
  });

  it('cuts a download that is still running when the grace period ends, then exits 0', async () => {
    const { s, idle, busy, data } = await setup();
    let got = 0;
    s.signal('SIGTERM');
    await idle.expect(421);
    // We never read: the transfer cannot end by itself, so the deadline (10 s) cuts it.
    const end = await within(s.exited, 30_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    data.on('data', (b: Buffer) => (got += b.length));
    data.resume();
    await Promise.race([once(data, 'close'), sleep(10_000)]);
    expect(got).toBeLessThan(BIG);
    const r = await busy.reply().catch(() => undefined);
    expect(r?.code).not.toBe(226);
    expect(s.crash).toBeUndefined();
  });
});
