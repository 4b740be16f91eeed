/**
 * Structured logs: the lines a session writes (connect, login, commands with code and time, transfers,
 * disconnect), no password at any level, and the pretty format for terminals.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/storage/memory.js';
import { formatPrettyLine, logDestination, PrettyDestination } from '../../src/ops/log-format.js';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { sessionsGone } from './helpers.js';
import { captureLog } from '../helpers/log-capture.js';
import { serversPerTest } from '../helpers/block-server.js';

const SECRET = 'Tr0ub4dor&3-horse-battery';
const WRONG = 'wr0ng-Staple-9431';

const serve = serversPerTest();

describe('session logs', () => {
  it('never contain a password, at any level, whatever the login path', async () => {
    const log = captureLog('trace');
    const t = await serve({
      logger: log.logger,
      users: [{ name: 'dave', password: { plain: SECRET }, home: new MemoryStorage() }],
      security: { ban: { failures: 3 } },
      limits: { loginFailureDelayMs: 1, maxLoginFailures: 10 },
    });
    const early = await RawClient.connect(t.port, t.host); // connected before the ban below
    const c = await RawClient.connect(t.port, t.host);
    await c.auth('TLS');
    await c.expectCmd('USER dave', 331);
    await c.expectCmd(`PASS ${WRONG}`, 530); // failure 1
    await c.expectCmd('USER dave', 331);
    await c.expectCmd(`PASS ${SECRET}`, 230);
    await c.expectCmd(`PASS ${SECRET}`, 230); // "already logged in"
    await c.expectCmd(`USER ${SECRET}`, 331); // a password typed as a user name is a user name
    await c.expectCmd(`PASS ${SECRET}`, 530); // failure 2
    await c.expectCmd(`PASS ${SECRET} ${WRONG}`, 503); // PASS without USER, with spaces
    await c.expectCmd('USER dave', 331);
    await c.expectCmd(`PASS ${WRONG}`, 530); // failure 3: banned
    await c.expect(421);
    await early.expectCmd('USER dave', 331);
    await early.expectCmd(`PASS ${SECRET}`, 530); // refused unchecked: banned
    await early.expect(421);
    await sessionsGone(t.server);
    const text = log.text();
    expect(text).toContain('"msg":"command"');
    expect(text).toContain('address banned');
    expect(text).not.toContain(WRONG);
    // The secret appears only where it was sent as a user name (USER), never as a password.
    const withSecret = log.lines().filter((l) => JSON.stringify(l).includes(SECRET));
    expect(withSecret.length).toBeGreaterThan(0);
    for (const line of withSecret) {
      expect(line.cmd === 'USER' || line.user === SECRET, JSON.stringify(line)).toBe(true);
      expect(line.cmd).not.toBe('PASS');
    }
    const passLines = log.lines().filter((l) => l.cmd === 'PASS');
    expect(passLines).toHaveLength(7);
    for (const l of passLines) expect(l).not.toHaveProperty('arg');
  });

  it('writes connect, login, command, transfer and disconnect lines with their fields', async () => {
    const log = captureLog('debug');
    const t = await serve({ logger: log.logger });
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    await upload(c, 'STOR report 1.bin', Buffer.alloc(777, 7), { tls: true });
    await c.expectCmd('TYPE A', 200);
    await download(c, 'RETR report 1.bin', { tls: true });
    await c.expectCmd('NOPE', 500);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    const lines = log.lines();
    const sid = lines.find((l) => l.msg === 'connect')?.sid;
    expect(typeof sid).toBe('string');
    const session = lines.filter((l) => l.sid === sid);
    const byMsg = (msg: string) => session.filter((l) => l.msg === msg);

    expect(byMsg('connect')[0]).toMatchObject({ level: 30, peer: '127.0.0.1', implicit: false });
    expect(byMsg('login')[0]).toMatchObject({ level: 30, user: 'alice', peer: '127.0.0.1', secure: true });

    const commands = byMsg('command');
    expect(commands.every((l) => l.level === 20 && typeof l.ms === 'number')).toBe(true);
    expect(commands.map((l) => `${String(l.cmd)} ${String(l.code)}`)).toEqual([
      'AUTH 234',
      'PBSZ 200',
      'USER 331',
      'PASS 230',
      'TYPE 200',
      'PROT 200',
      'EPSV 229',
      'STOR 226',
      'TYPE 200',
      'EPSV 229',
      'RETR 226',
      'NOPE 500',
      'QUIT 221',
    ]);
    expect(commands.find((l) => l.cmd === 'STOR')).toMatchObject({ arg: 'report 1.bin', user: 'alice' });

    const [up, down] = byMsg('transfer complete');
    expect(up).toMatchObject({ level: 30, direction: 'upload', path: '/report 1.bin', bytes: 777, mode: 'binary', protection: 'private', code: 226, user: 'alice', peer: '127.0.0.1' });
    expect(down).toMatchObject({ direction: 'download', bytes: 777, mode: 'ascii', protection: 'private' });
    expect(typeof up!.ms).toBe('number');

    expect(byMsg('disconnect')[0]).toMatchObject({ level: 30, user: 'alice', peer: '127.0.0.1' });
    // Every line of the session carries its id; the time is ISO 8601.
    for (const l of session) expect(String(l.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('logs failed transfers at info with their reply code', async () => {
    const log = captureLog('info');
    const t = await serve({ logger: log.logger });
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('STOR cut.bin');
    await c.expect(150);
    data.resetAndDestroy(); // the connection breaks mid-upload (RST: a FIN would be a complete upload)
    await c.expect(426);
    c.close();
    await sessionsGone(t.server);
    const failed = log.lines().find((l) => l.msg === 'transfer failed');
    expect(failed).toMatchObject({ level: 30, direction: 'upload', path: '/cut.bin', code: 426, protection: 'clear' });
    expect(log.lines().some((l) => l.msg === 'command')).toBe(false); // debug only
  });
});

describe('pretty log format', () => {
  const line = JSON.stringify({
    level: 30,
    time: '2026-11-28T20:03:11.123Z',
    sid: 'abc123',
    user: 'alice',
    path: '/a b.txt',
    bytes: 12,
    ok: true,
    msg: 'transfer complete',
  });

  it('prints time, level, message and fields on one line', () => {
    const out = formatPrettyLine(line);
    expect(out).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.123 INFO  transfer complete  sid=abc123 user=alice path="\/a b\.txt" bytes=12 ok=true\n$/);
  });

  it('cannot be made to print control characters or extra lines', () => {
    const evil = JSON.stringify({ level: 40, time: 0, msg: 'x\ny', path: 'a\r\nINFO forged\x1b[2J' });
    const out = formatPrettyLine(evil);
    expect(out.split('\n')).toHaveLength(2);
    expect(out).not.toMatch(/\x1b/);
    expect(formatPrettyLine(JSON.stringify({ level: 30, time: 0, msg: 'm', name: 'a\u009b2Jb\u2028c d' }))).toContain('name="a?2Jb?c d"');
    expect(out).toContain('WARN  x?y');
  });

  it('colours levels only when asked', () => {
    expect(formatPrettyLine(line, { colour: true })).toContain('\x1b[32mINFO \x1b[0m');
    expect(formatPrettyLine(line)).not.toContain('\x1b');
  });

  it('shows error stacks indented under the line', () => {
    const out = formatPrettyLine(JSON.stringify({ level: 50, time: 0, msg: 'boom', err: { message: 'bad', stack: 'Error: bad\n    at f (x.js:1:1)' } }));
    expect(out).toBe(`${out.slice(0, 23)} ERROR boom  err=bad\n    at f (x.js:1:1)\n`);
  });

  it('passes lines that are not JSON through, and joins lines split across writes', () => {
    let out = '';
    const dest = new PrettyDestination({ write: (s: string) => (out += s) });
    dest.write(line.slice(0, 10));
    expect(out).toBe('');
    dest.write(line.slice(10) + '\nnot json\n');
    expect(out).toMatch(/INFO  transfer complete .*\nnot json\n$/);
  });

  it('auto is pretty on a terminal and JSON elsewhere', () => {
    const target = { write: () => true };
    expect(logDestination('auto', target, { isTTY: false })).toBe(target);
    expect(logDestination('json', target, { isTTY: true })).toBe(target);
    expect(logDestination('auto', target, { isTTY: true })).toBeInstanceOf(PrettyDestination);
    expect(logDestination('pretty', target, { isTTY: false })).toBeInstanceOf(PrettyDestination);
  });
});
