/**
 * Commands during a transfer: STAT reports the bytes so far, QUIT waits for the transfer's 226, other
 * commands wait for the transfer to end.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import { readAll } from '../helpers/raw-client.js';
import { big, bytes, t, useTransferServer } from './transfer-fixture.js';

describe('commands during a transfer', () => {
  useTransferServer();

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
});
