/**
 * The dispatcher pipeline, one reply per step: parse, unknown verb, TLS policy, login, sequence,
 * argument shape, path resolution, permission.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failLogins, loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, RO_PASS, RO_USER, USER } from '../helpers/server.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('dispatcher pipeline', () => {
  const t = serverForBlock({}, { 'file.txt': 'hello' });

  it('answers an unknown verb with 500 and a malformed line with 500, and goes on', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('FROB', 500, /^500 Unknown command\.$/);
    await c.expectCmd('FROB with args', 500, /^500 Unknown command\.$/);
    await c.expectCmd('!!!', 500, /^500 Syntax error, command unrecognized\.$/);
    await c.expectCmd('NOOP', 200, /^200 NOOP ok\.$/);
    c.close();
  });

  it('answers pipelined commands in order, with CRLF, LF or CR line ends', async () => {
    const c = await RawClient.connect(t.port);
    c.write(`USER ${USER}\r\nPASS ${PASS}\nPWD\rNOOP\r\n`);
    await c.expect(331);
    await c.expect(230);
    await c.expect(257, /^257 "\/" is the current directory\.$/);
    await c.expect(200);
    c.close();
  });

  it('takes a command split across many small writes', async () => {
    const c = await RawClient.connect(t.port);
    for (const part of ['NO', 'O', 'P', '\r', '\n']) {
      c.write(part);
      await new Promise((r) => setImmediate(r));
    }
    await c.expect(200, /^200 NOOP ok\.$/);
    c.close();
  });

  it('takes verbs in any case', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('user alice', 331, /^331 Please specify the password\.$/);
    await c.expectCmd('pAsS secret', 230, /^230 Login successful\.$/);
    await c.expectCmd('pwd', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('xPwD', 257, /^257 "\/" is the current directory\.$/);
    c.close();
  });

  it('keeps the argument verbatim: inner and trailing spaces, quotes, UTF-8', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MKD two  spaces ', 257, /^257 "\/two  spaces " created\.$/);
    expect(existsSync(join(t.root, 'two  spaces '))).toBe(true);
    await c.expectCmd('MKD say "hi"', 257, /^257 "\/say ""hi""" created\.$/);
    expect(existsSync(join(t.root, 'say "hi"'))).toBe(true);
    await c.expectCmd('MKD café ☕', 257, /^257 "\/café ☕" created\.$/);
    expect(existsSync(join(t.root, 'café ☕'))).toBe(true);
    await c.expectCmd('CWD café ☕', 250);
    await c.expectCmd('PWD', 257, /^257 "\/café ☕" is the current directory\.$/);
    c.close();
  });

  it('refuses an argument to a command that takes none with 501', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('PWD now', 501, /^501 PWD takes no argument\.$/);
    await c.expectCmd('CDUP x', 501, /^501 CDUP takes no argument\.$/);
    await c.expectCmd('NOOP x', 501, /^501 NOOP takes no argument\.$/);
    await c.expectCmd('SYST x', 501, /^501 SYST takes no argument\.$/);
    await c.expectCmd('PASV x', 501, /^501 PASV takes no argument\.$/);
    await c.expectCmd('QUIT now', 501, /^501 QUIT takes no argument\.$/);
    // The connection is still there.
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('refuses a missing required argument with 501 and the syntax', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('RETR', 501, /^501 Syntax: RETR <sp> pathname$/);
    await c.expectCmd('MKD', 501, /^501 Syntax: MKD <sp> pathname$/);
    await c.expectCmd('DELE ', 501, /^501 Syntax: DELE <sp> pathname$/);
    await c.expectCmd('TYPE', 501, /^501 Syntax: TYPE <sp> A\|I$/);
    await c.expectCmd('USER', 501, /^501 Syntax: USER <sp> username$/);
    c.close();
  });

  it('refuses commands that need a login with 530', async () => {
    const c = await RawClient.connect(t.port);
    for (const cmd of ['PWD', 'CWD /', 'LIST', 'RETR file.txt', 'STOR x', 'DELE file.txt', 'MKD d', 'SIZE file.txt', 'PASV', 'EPSV', 'TYPE I', 'SITE CHMOD 600 file.txt', 'HASH file.txt']) {
      await c.expectCmd(cmd, 530, /^530 Please login with USER and PASS\.$/);
    }
    // Public commands work before login.
    await c.expectCmd('SYST', 215);
    await c.expectCmd('NOOP', 200);
    expect(existsSync(join(t.root, 'd'))).toBe(false);
    c.close();
  });

  it('needs RNFR right before RNTO (503)', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('RNTO other.txt', 503, /^503 RNFR required first\.$/);
    await c.expectCmd('RNFR file.txt', 350, /^350 Ready for RNTO\.$/);
    await c.expectCmd('NOOP', 200);
    await c.expectCmd('RNTO other.txt', 503, /^503 RNFR required first\.$/);
    expect(existsSync(join(t.root, 'file.txt'))).toBe(true);
    expect(existsSync(join(t.root, 'other.txt'))).toBe(false);
    c.close();
  });

  it('refuses a path with NUL with 553', async () => {
    const c = await loggedIn(t);
    c.write(Buffer.from('MKD bad\0name\r\n'));
    await c.expect(553, /^553 File name not allowed\.$/);
    c.write(Buffer.from('RETR file.txt\0.jpg\r\n'));
    await c.expect(553, /^553 File name not allowed\.$/);
    c.write(Buffer.from('DELE file.txt\0\r\n'));
    await c.expect(553, /^553 File name not allowed\.$/);
    expect(existsSync(join(t.root, 'file.txt'))).toBe(true);
    c.close();
  });

  it('refuses a name longer than 255 bytes with 553', async () => {
    const c = await loggedIn(t);
    await c.expectCmd(`MKD ${'x'.repeat(256)}`, 553, /^553 File name not allowed\.$/);
    await c.expectCmd(`MKD ${'é'.repeat(128)}`, 553, /^553 File name not allowed\.$/);
    c.close();
  });

  it('keeps paths inside the root: .. never climbs above /', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('CWD ../../..', 250);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('SIZE /../../file.txt', 550, /SIZE not allowed in ASCII mode/);
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('SIZE /../../file.txt', 213, /^213 5$/);
    c.close();
  });

  it('refuses every modifying command to a read-only user with 550', async () => {
    const c = await loggedIn(t, { user: RO_USER, pass: RO_PASS });
    const denied = /^550 Permission denied\.$/;
    await c.expectCmd('DELE file.txt', 550, denied);
    await c.expectCmd('MKD newdir', 550, denied);
    await c.expectCmd('XMKD newdir', 550, denied);
    await c.expectCmd('RMD two  spaces ', 550, denied);
    await c.expectCmd('RNFR file.txt', 550, denied);
    await c.expectCmd('SITE CHMOD 777 file.txt', 550, denied);
    await c.expectCmd('MFMT 20200101000000 file.txt', 550, denied);
    // Transfers that write are refused before any data connection is needed.
    await c.expectCmd('STOR new.txt', 550, denied);
    await c.expectCmd('APPE file.txt', 550, denied);
    await c.expectCmd('STOU', 550, denied);
    // Reading still works.
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('SIZE file.txt', 213, /^213 5$/);
    expect(existsSync(join(t.root, 'file.txt'))).toBe(true);
    expect(existsSync(join(t.root, 'newdir'))).toBe(false);
    expect(existsSync(join(t.root, 'new.txt'))).toBe(false);
    c.close();
  });

  it('answers a line over the limit with 500 and goes on', async () => {
    const c = await loggedIn(t);
    c.send('NOOP ' + 'x'.repeat(9000));
    await c.expect(500, /^500 Line too long\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('answers invalid UTF-8 with 501', async () => {
    const c = await loggedIn(t);
    c.write(Buffer.from([0x4d, 0x4b, 0x44, 0x20, 0xc3, 0x28, 0x0d, 0x0a])); // MKD <bad UTF-8>
    await c.expect(501, /^501 Invalid UTF-8 in command\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('removes Telnet commands from the line', async () => {
    const c = await RawClient.connect(t.port);
    c.write(Buffer.from([0xff, 0xf4, 0xff, 0xf2, ...Buffer.from('NOOP\r\n')])); // IAC IP IAC DM NOOP
    await c.expect(200, /^200 NOOP ok\.$/);
    c.close();
  });
});

describe('dispatcher limits', () => {
  const t = serverForBlock({ limits: { maxBadCommands: 3, maxLoginFailures: 2, loginFailureDelayMs: 1 } });

  it('closes the connection after too many bad commands in a row (421)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('BAD1', 500);
    await c.expectCmd('NOOP', 200); // a good command resets the count
    await c.expectCmd('BAD2', 500);
    await c.expectCmd('BAD3', 500);
    c.send('BAD4');
    await c.expect(500);
    await c.expect(421, /^421 Too many bad commands; closing connection\.$/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('closes the connection after too many failed logins (530 then 421)', async () => {
    const c = await RawClient.connect(t.port);
    await failLogins(c, USER, 2);
    expect(await c.waitClosed()).toBe(true);
  });

  it('a right password after one wrong one logs in', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS wrong', 530);
    await c.login(USER, PASS);
    c.close();
  });
});
