/**
 * Untrusted input on the control connection: long lines, endless garbage, NUL, CR/LF, invalid UTF-8,
 * overlong paths and names get fixed replies and leave the session working; reply text can never be
 * split into extra reply lines by a file name.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatReply, reply } from '../../src/base/reply.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { clientFrom } from './abuse-helpers.js';
import { serverForBlock } from '../helpers/block-server.js';

/** Names in the root of `storage`. */
async function names(storage: MemoryStorage): Promise<string[]> {
  const out: string[] = [];
  for await (const e of storage.list([])) out.push(e.name);
  return out;
}

/**
 * Sends raw bytes and returns every byte of the answer, up to `replies` replies (which are then taken
 * from the client's queue too).
 */
async function rawExchange(c: RawClient, bytes: Buffer, replies: number): Promise<string> {
  const until = new RegExp(`^(?:\\d{3} [^\\r\\n]*\\r\\n){${replies}}$`);
  let text = '';
  const socket = c.socket;
  const collect = (d: Buffer) => (text += d.toString('utf8'));
  socket.on('data', collect);
  c.write(bytes);
  const deadline = Date.now() + 10_000;
  while (!until.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  socket.off('data', collect);
  for (let i = 0; i < replies; i++) await c.reply();
  return text;
}

describe('control input', () => {
  let t: TestServer;
  let storage: MemoryStorage;
  beforeAll(async () => {
    storage = new MemoryStorage();
    t = await startServer({ storage, limits: { maxLineBytes: 1024 } });
  });
  afterAll(() => t.close());

  async function session(local: string): Promise<RawClient> {
    const c = await clientFrom(t.port, local);
    await c.login(USER, PASS);
    return c;
  }

  it('a line over maxLineBytes gets 500 and the session survives', async () => {
    const c = await session('127.0.20.1');
    c.send('MKD ' + 'a'.repeat(5000));
    await c.expect(500, /^500 Line too long\.$/);
    await c.expectCmd('NOOP', 200);
    // Nothing of the long line was executed.
    await c.expectCmd('NLST', 425);
    c.close();
  });

  it('endless bytes without a line end: 500, then 421 and the connection closes', async () => {
    const c = await session('127.0.20.2');
    const chunk = Buffer.alloc(16 * 1024, 0x41);
    for (let i = 0; i < 16 && !c.isClosed; i++) c.write(chunk);
    await c.expect(500, /^500 Line too long\.$/);
    await c.expect(421, /^421 Line too long; closing connection\.$/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('NUL in a path: 553, nothing created', async () => {
    const c = await session('127.0.20.3');
    await c.expectCmd('MKD nul\0name', 553, /^553 File name not allowed\.$/);
    await c.expectCmd('CWD a\0b', 553, /^553 File name not allowed\.$/);
    await c.expectCmd('DELE \0', 553);
    await c.expectCmd('NOOP', 200);
    expect((await names(storage)).filter((n) => n.startsWith('nul'))).toEqual([]);
    c.close();
  });

  it('CR or LF always end a command: a name can never hold one', async () => {
    const c = await session('127.0.20.4');
    const answer = await rawExchange(c, Buffer.from('MKD crlf-a\rNOOP\nMKD crlf-b\r\nXYZZY crlf-c\r\n'), 4);
    expect(answer).toBe('257 "/crlf-a" created.\r\n200 NOOP ok.\r\n257 "/crlf-b" created.\r\n500 Unknown command.\r\n');
    expect((await names(storage)).filter((n) => n.startsWith('crlf')).sort()).toEqual(['crlf-a', 'crlf-b']);
    c.close();
  });

  it('invalid UTF-8: 501, nothing executed, the session survives', async () => {
    const c = await session('127.0.20.5');
    c.write(Buffer.concat([Buffer.from('MKD bad-'), Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('\r\n')]));
    await c.expect(501, /^501 Invalid UTF-8 in command\.$/);
    // An overlong encoding of "/" (C0 AF) is invalid too: no path tricks through it.
    c.write(Buffer.concat([Buffer.from('CWD ..'), Buffer.from([0xc0, 0xaf]), Buffer.from('..\r\n')]));
    await c.expect(501);
    await c.expectCmd('NOOP', 200);
    expect((await names(storage)).some((n) => n.startsWith('bad-'))).toBe(false);
    c.close();
  });

  it('overlong names (over 255 bytes) and paths (over 4096 bytes): 553', async () => {
    const c = await session('127.0.20.6');
    await c.expectCmd('MKD ' + 'n'.repeat(256), 553, /^553 File name not allowed\.$/);
    await c.expectCmd('MKD ' + 'é'.repeat(128), 553); // 256 bytes in UTF-8
    await c.expectCmd('MKD ' + 'n'.repeat(255), 257);
    const t2 = await startServer({ storage: new MemoryStorage() }); // the default 8192-byte lines
    try {
      const d = await clientFrom(t2.port, '127.0.20.7');
      await d.login(USER, PASS);
      const long = Array.from({ length: 20 }, () => 'p'.repeat(250)).join('/'); // 5019 bytes
      await d.expectCmd('MKD ' + long, 553, /^553 File name not allowed\.$/);
      await d.expectCmd('CWD ' + long, 553);
      await d.expectCmd('NOOP', 200);
      // A short argument that makes the whole path too long (the current directory counts).
      for (let i = 0; i < 16; i++) {
        await d.expectCmd(`MKD ${'d'.repeat(250)}`, 257);
        await d.expectCmd(`CWD ${'d'.repeat(250)}`, 250);
      }
      // 16 names of 250 bytes, 16 separators and 80 bytes make 4096: just fits; one byte more does not.
      await d.expectCmd(`MKD ${'e'.repeat(80)}`, 257);
      await d.expectCmd(`MKD ${'f'.repeat(81)}`, 553, /^553 File name not allowed\.$/);
      d.close();
    } finally {
      await t2.close();
    }
    c.close();
  });
});

describe('reply lines cannot be split by names', () => {
  const t = serverForBlock();

  it('MKD: quotes are doubled and line separators never reach the 257 line', async () => {
    const c = await clientFrom(t.port, '127.0.21.1');
    await c.login(USER, PASS);
    const quoted = await c.expectCmd('MKD say "hi"', 257);
    expect(quoted.text).toBe('257 "/say ""hi""" created.');
    // NEL (U+0085), LINE SEPARATOR (U+2028), PARAGRAPH SEPARATOR (U+2029), TAB, ESC, DEL.
    const name = 'x\u0085226 y\u2028226 z\u2029w\t\u001b\u007fend';
    const raw = await rawExchange(c, Buffer.from(`MKD ${name}\r\n`), 1);
    expect(raw).toBe('257 "/x 226 y 226 z w   end" created.\r\n');
    expect(raw).not.toMatch(/[\u0085\u2028\u2029\t\u001b\u007f]/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('STAT of a directory whose names hold CR and LF (made on disk): one reply, one line per entry', async () => {
    const dir = join(t.root, 'evil');
    await mkdir(dir);
    await writeFile(join(dir, 'a\r\n226 Transfer complete.'), 'x');
    await writeFile(join(dir, 'b\n550 oops\r'), 'y');
    expect((await readdir(dir)).length).toBe(2);
    const c = await clientFrom(t.port, '127.0.21.2');
    await c.login(USER, PASS);
    const r = await c.expectCmd('STAT evil', 213);
    const entries = r.lines.slice(1, -1);
    expect(entries).toHaveLength(2);
    for (const line of entries) expect(line).not.toMatch(/^\d{3}[ -]/);
    // The next reply is the next command's, not a leftover line.
    await c.expectCmd('NOOP', 200, /^200 NOOP ok\.$/);
    c.close();
  });

  it('formatReply: every line is safe, continuation lines cannot look like a final line', () => {
    const out = formatReply(reply(211, 'first\r\n221 Goodbye.', '226 fake', 'a\u2028b\u0085c', 'last\nline'));
    expect(out).toBe('211-first  221 Goodbye.\r\n 226 fake\r\na b c\r\n211 last line\r\n');
    expect(out.split('\r\n')).toHaveLength(5);
  });
});
