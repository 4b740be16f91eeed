/**
 * Graceful shutdown on SIGTERM: no new sessions, 421 to idle ones, running transfers get the grace
 * period, then ftpsd exits 0; what still runs then gets 426 (an upload is aborted) and 421 before its
 * connection closes.
 */
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { ChildServer, killChildren } from './child-server.js';
import { BIG, cleanUpChildren, plain, prepare, sleep } from './crash-helpers.js';
import { within } from './tls-helpers.js';

cleanUpChildren();

describe('graceful shutdown on SIGTERM', () => {
  afterEach(killChildren);

  /** A logged-in idle client and one whose download of big.bin waits while we hold its data socket. */
  let root = '';

  /** `stalledMs`: the stalled-transfer timeout (longer than the grace period: only the deadline may cut). */
  async function setup(stalledMs = 5000): Promise<{ s: ChildServer; idle: RawClient; busy: RawClient; data: Socket }> {
    const { dir, args } = await prepare();
    root = join(dir, 'root');
    const config = join(dir, 'ftpsd.yaml');
    await writeFile(config, (await readFile(config, 'utf8')).replace('stalledTransferMs: 5000', `stalledTransferMs: ${stalledMs}`));
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

  it('stops what still runs when the grace period ends: 426 for the transfer, then 421, then exits 0', async () => {
    const { s, idle, busy, data } = await setup(60_000);
    // An upload over big.bin that never ends: it must be aborted, the old content kept, no temp file left.
    const uploader = await plain(s.port());
    const up = await uploader.epsv();
    uploader.send('STOR big.bin');
    await uploader.expect(150);
    await new Promise<void>((r) => up.write(Buffer.alloc(1024 * 1024, 0x21), () => r()));
    let got = 0;
    s.signal('SIGTERM');
    await idle.expect(421);
    // We never read, nor finish the upload: neither transfer can end by itself, so the deadline (10 s) cuts them.
    const end = await within(s.exited, 30_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    data.on('data', (b: Buffer) => (got += b.length));
    data.resume();
    await Promise.race([once(data, 'close'), sleep(10_000)]);
    expect(got).toBeLessThan(BIG);
    // The replies went out before the connections closed: the transfer's 426, then the 421.
    await busy.expect(426, /^426 Transfer aborted/);
    await busy.expect(421, /shutting down/i);
    await uploader.expect(426, /^426 Transfer aborted/);
    await uploader.expect(421, /shutting down/i);
    expect(await uploader.waitClosed()).toBe(true);
    const big = await readFile(join(root, 'big.bin'));
    expect(big.length).toBe(BIG);
    expect(big.every((b) => b === 0x5a)).toBe(true);
    expect((await readdir(root)).filter((n) => n.startsWith('.ftpsd-upload-'))).toEqual([]);
    expect(s.crash).toBeUndefined();
  });
});
