/**
 * The xferlog transfer log: every field, one by one, for uploads and downloads, binary and ascii,
 * completed and aborted, anonymous and real users; names with spaces; reopening for rotation.
 */
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransferEndEvent } from '../../src/events.js';
import { XferLog, formatXferlogLine, xferlogName, xferlogTime } from '../../src/ops/xferlog.js';
import { allBytes, download, loggedIn, upload } from '../helpers/flows.js';
import { USER, startServer, type TestServer } from '../helpers/server.js';
import { eventually } from './helpers.js';

interface XferFields {
  time: string;
  seconds: number;
  host: string;
  size: number;
  file: string;
  type: string;
  action: string;
  direction: string;
  access: string;
  user: string;
  service: string;
  authMethod: string;
  authUser: string;
  status: string;
}

/** Splits a line into its fields (the time takes the first five words). */
function fields(line: string): XferFields {
  const w = line.trim().split(/\s+/);
  expect(w, line).toHaveLength(18);
  return {
    time: line.trim().slice(0, 24), // ctime's fixed width: the day of the month is padded with a space
    seconds: Number(w[5]),
    host: w[6]!,
    size: Number(w[7]),
    file: w[8]!,
    type: w[9]!,
    action: w[10]!,
    direction: w[11]!,
    access: w[12]!,
    user: w[13]!,
    service: w[14]!,
    authMethod: w[15]!,
    authUser: w[16]!,
    status: w[17]!,
  };
}

const TIME = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}$/;

describe('xferlog', () => {
  let t: TestServer;
  let dir: string;
  let file: string;
  let xferlog: XferLog;

  beforeAll(async () => {
    t = await startServer({ anonymous: true });
    dir = await mkdtemp(join(tmpdir(), 'ftpsd-xferlog-'));
    file = join(dir, 'xferlog');
    xferlog = new XferLog(file);
    xferlog.attach(t.server.events);
  });
  afterAll(async () => {
    await t.close();
    await xferlog.close();
    await rm(dir, { recursive: true, force: true });
  });

  const lines = async (f = file) => (await readFile(f, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
  /** Waits for the log to have `n` lines (writes are asynchronous) and returns the last one's fields. */
  async function nth(n: number, f = file): Promise<XferFields> {
    await eventually(async () => (await lines(f)).length >= n, 10_000, `${n} xferlog lines`);
    const all = await lines(f);
    expect(all).toHaveLength(n);
    return fields(all[n - 1]!);
  }

  it('logs a completed binary download by a real user', async () => {
    await writeFile(join(t.root, 'down.bin'), allBytes(3000));
    const c = await loggedIn(t, { binary: true });
    const before = Date.now();
    await download(c, 'RETR down.bin');
    const f = await nth(1);
    expect(f.time).toMatch(TIME);
    const logged = new Date(f.time).getTime();
    expect(Math.abs(logged - before)).toBeLessThan(5 * 60_000);
    expect(f.seconds).toBeGreaterThanOrEqual(1);
    expect(f).toMatchObject({
      host: '127.0.0.1',
      size: 3000,
      file: '/down.bin',
      type: 'b',
      action: '_',
      direction: 'o',
      access: 'r',
      user: USER,
      service: 'ftp',
      authMethod: '0',
      authUser: '*',
      status: 'c',
    });
    c.close();
  });

  it('logs a completed ascii upload, with the spaces of its name as underscores', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MKD sub dir', 257);
    await upload(c, 'STOR sub dir/notes for you.txt', 'line one\r\nline two\r\n');
    const f = await nth(2);
    expect(f).toMatchObject({
      type: 'a',
      direction: 'i',
      file: '/sub_dir/notes_for_you.txt',
      size: 20,
      access: 'r',
      user: USER,
      status: 'c',
    });
    expect((await readFile(join(t.root, 'sub dir', 'notes for you.txt'), 'utf8'))).toBe('line one\nline two\n');
    c.close();
  });

  it('logs an aborted upload as incomplete (i) with the bytes that arrived', async () => {
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('STOR aborted.bin');
    await c.expect(150);
    await new Promise<void>((r) => data.write(Buffer.alloc(500, 1), () => r()));
    await eventually(() => t.server.sessions.size > 0 && [...t.server.sessions.values()].some((s) => s.transferredBytes === 500), 10_000, 'bytes to arrive');
    c.send('ABOR');
    await c.expect(426);
    await c.expect(226);
    const f = await nth(3);
    expect(f).toMatchObject({ direction: 'i', type: 'b', file: '/aborted.bin', size: 500, status: 'i' });
    data.destroy();
    c.close();
  });

  it('logs an aborted download as incomplete (i)', async () => {
    await writeFile(join(t.root, 'big.bin'), Buffer.alloc(64 * 1024 * 1024));
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('RETR big.bin');
    await c.expect(150);
    // Read a little, then stop reading and abort: the transfer cannot have completed.
    await new Promise<void>((r) => data.once('data', () => r()));
    data.pause();
    c.send('ABOR');
    await c.expect(426);
    await c.expect(226);
    const f = await nth(4);
    expect(f).toMatchObject({ direction: 'o', file: '/big.bin' });
    expect(f.size).toBeGreaterThan(0);
    expect(f.size).toBeLessThan(64 * 1024 * 1024);
    expect(f.status).toBe('i');
    data.destroy();
    c.close();
  });

  it('logs an anonymous ascii download with access mode a and the user anonymous', async () => {
    await writeFile(join(t.root, 'pub.txt'), 'public\n');
    const c = await loggedIn(t, { user: 'ftp', pass: 'someone@example.com' });
    expect((await download(c, 'RETR pub.txt')).toString()).toBe('public\r\n');
    const f = await nth(5);
    expect(f).toMatchObject({ type: 'a', access: 'a', user: 'anonymous', direction: 'o', size: 7, status: 'c' });
    // The password given (an e-mail address by custom) is never written.
    expect((await lines()).join('\n')).not.toContain('someone@example.com');
    c.close();
  });

  it('does not log listings or transfers refused before the file opened', async () => {
    const c = await loggedIn(t);
    await download(c, 'LIST');
    await download(c, 'NLST');
    const data = await c.epsv();
    await c.expectCmd('RETR missing.bin', 550);
    data.destroy();
    await c.expectCmd('NOOP', 200);
    // Another transfer proves the log is up to date, and is line 6.
    await upload(c, 'STOR after.txt', 'x');
    const f = await nth(6);
    expect(f.file).toBe('/after.txt');
    c.close();
  });

  it('reopens the file after rotation', async () => {
    const rotated = join(dir, 'xferlog.1');
    await rename(file, rotated);
    xferlog.reopen();
    const c = await loggedIn(t, { binary: true });
    await upload(c, 'STOR rotated.bin', 'abc');
    const f = await nth(1, file);
    expect(f.file).toBe('/rotated.bin');
    expect(await lines(rotated)).toHaveLength(6);
    c.close();
  });
});

describe('xferlog format', () => {
  const event: TransferEndEvent = {
    id: 's1',
    remoteAddress: '2001:db8::7',
    user: 'carol smith',
    direction: 'upload',
    path: '/in/a\nb\tc d.txt',
    bytes: 1024,
    durationMs: 2600,
    mode: 'binary',
    protection: 'private',
    ok: true,
    code: 226,
    anonymous: false,
  };

  it('writes ctime-style local times with the day padded by a space', () => {
    expect(xferlogTime(new Date(2026, 10, 28, 20, 3, 11))).toBe('Sat Nov 28 20:03:11 2026');
    expect(xferlogTime(new Date(2026, 10, 8, 7, 5, 1))).toBe('Sun Nov  8 07:05:01 2026');
  });

  it('formats a whole line', () => {
    const line = formatXferlogLine(event, new Date(2026, 10, 28, 20, 3, 11));
    expect(line).toBe('Sat Nov 28 20:03:11 2026 3 2001:db8::7 1024 /in/a?b?c_d.txt b _ i r carol_smith ftp 0 * c\n');
  });

  it('rounds the transfer time to whole seconds, at least 1', () => {
    expect(formatXferlogLine({ ...event, durationMs: 3 }).split(' ').filter(Boolean)[5]).toBe('1');
    expect(formatXferlogLine({ ...event, durationMs: 1499 }).split(' ').filter(Boolean)[5]).toBe('1');
    expect(formatXferlogLine({ ...event, durationMs: 61_500 }).split(' ').filter(Boolean)[5]).toBe('62');
  });

  it('keeps names to one field', () => {
    expect(xferlogName('a b\u2028c\x1b[31m')).toBe('a_b?c?[31m');
    expect(xferlogName('')).toBe('_');
  });

  it('fails at start when the file cannot be opened', () => {
    expect(() => new XferLog(join(tmpdir(), 'no-such-dir-ftpsd', 'xferlog'))).toThrow(/ENOENT/);
  });
});
