/**
 * Bandwidth limits (data/bandwidth.ts; `limits.session*BytesPerSecond`, `limits.server*BytesPerSecond`):
 * a measured rate, as a functional check with generous bounds (a limited transfer takes at least 0.8x
 * the time its limit allows; an unlimited one of the same size is not held back), and the token bucket
 * itself. Speed as such is measured in bench/, not here.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/data/bandwidth.js';
import { allBytes, download, loggedIn, upload } from '../helpers/flows.js';
import { PASS, RO_PASS, RO_USER, USER, usingServer } from '../helpers/server.js';

const KiB = 1024;
const SIZE = 512 * KiB;
const RATE = 256 * KiB;
/** The least time a SIZE transfer at RATE may take: 0.8x of SIZE / RATE. */
const AT_LEAST_MS = 0.8 * (SIZE / RATE) * 1000;

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await f();
  return { value, ms: performance.now() - started };
}

describe('bandwidth limits', () => {
  it('a session download limit: 512 KiB at 256 KiB/s takes at least 1.6 s, and arrives intact', async () => {
    const body = allBytes(SIZE);
    await usingServer({ limits: { sessionDownloadBytesPerSecond: RATE } }, async (t) => {
      await writeFile(join(t.root, 'big.bin'), body);
      const c = await loggedIn(t, { binary: true });
      const r = await timed(() => download(c, 'RETR big.bin'));
      expect(r.value.equals(body)).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(AT_LEAST_MS);
      expect(r.ms).toBeLessThan(15_000);
      // Uploads are limited separately: none here.
      const up = await timed(() => upload(c, 'STOR up.bin', body));
      expect(up.ms).toBeLessThan(AT_LEAST_MS);
      c.close();
    });
  }, 30_000);

  it('a session upload limit: 512 KiB at 256 KiB/s takes at least 1.6 s, and is stored intact', async () => {
    const body = allBytes(SIZE);
    await usingServer({ limits: { sessionUploadBytesPerSecond: RATE } }, async (t) => {
      const c = await loggedIn(t, { binary: true });
      const r = await timed(() => upload(c, 'STOR up.bin', body));
      expect(r.ms).toBeGreaterThanOrEqual(AT_LEAST_MS);
      expect(r.ms).toBeLessThan(15_000);
      const back = await download(c, 'RETR up.bin');
      expect(back.equals(body)).toBe(true);
      c.close();
    });
  }, 30_000);

  it('the server-wide cap is shared: two sessions of 256 KiB each at 256 KiB/s in all take at least 1.6 s', async () => {
    const half = allBytes(SIZE / 2);
    await usingServer({ limits: { serverDownloadBytesPerSecond: RATE } }, async (t) => {
      await writeFile(join(t.root, 'half.bin'), half);
      const a = await loggedIn(t, { binary: true });
      const b = await loggedIn(t, { binary: true });
      const r = await timed(() => Promise.all([download(a, 'RETR half.bin'), download(b, 'RETR half.bin')]));
      for (const got of r.value) expect(got.equals(half)).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(AT_LEAST_MS);
      a.close();
      b.close();
    });
  }, 30_000);

  it('a user limit (users[].bandwidth) is shared by the user\'s sessions; another user is not held back', async () => {
    const half = allBytes(SIZE / 2);
    const home = await mkdtemp(join(tmpdir(), 'ftpsd-bw-'));
    await writeFile(join(home, 'half.bin'), half);
    const bandwidth = { downloadBytesPerSecond: RATE };
    const users = [
      { name: USER, password: { plain: PASS }, home, bandwidth },
      { name: RO_USER, password: { plain: RO_PASS }, home, readOnly: true },
    ];
    await usingServer({ users }, async (t) => {
      const a = await loggedIn(t, { binary: true });
      const b = await loggedIn(t, { binary: true });
      const r = await timed(() => Promise.all([download(a, 'RETR half.bin'), download(b, 'RETR half.bin')]));
      for (const got of r.value) expect(got.equals(half)).toBe(true);
      expect(r.ms).toBeGreaterThanOrEqual(AT_LEAST_MS);
      const other = await loggedIn(t, { binary: true, user: RO_USER, pass: RO_PASS });
      const free = await timed(() => download(other, 'RETR half.bin'));
      expect(free.ms).toBeLessThan(AT_LEAST_MS);
      for (const c of [a, b, other]) c.close();
    });
    await rm(home, { recursive: true, force: true });
  }, 30_000);

  it('the token bucket: a burst of a quarter second, then waits that add up to the rate', () => {
    const bucket = new TokenBucket(100 * KiB);
    expect(bucket.charge(25 * KiB)).toBe(0); // the burst
    const wait = bucket.charge(50 * KiB);
    expect(wait).toBeGreaterThan(450);
    expect(wait).toBeLessThan(520);
  });
});
