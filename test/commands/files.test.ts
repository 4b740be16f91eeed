/**
 * DELE RNFR RNTO SIZE MDTM MFMT (RFC 959, RFC 3659, draft-somers-ftp-mfxx) and SITE CHMOD.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import { startServer, type TestServer } from '../helpers/server.js';

describe('files', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
    await writeFile(join(t.root, 'ten.txt'), '0123456789');
    await mkdir(join(t.root, 'dir'));
  });
  afterAll(() => t.close());

  it('DELE deletes a file (250)', async () => {
    await writeFile(join(t.root, 'doomed.txt'), 'bye');
    const c = await loggedIn(t);
    await c.expectCmd('DELE doomed.txt', 250, /^250 File deleted\.$/);
    expect(existsSync(join(t.root, 'doomed.txt'))).toBe(false);
    await c.expectCmd('DELE doomed.txt', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('DELE of a directory or of /: 550', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('DELE dir', 550, /^550 Is a directory\.$/);
    await c.expectCmd('DELE /', 550, /^550 Permission denied\.$/);
    expect(existsSync(join(t.root, 'dir'))).toBe(true);
    c.close();
  });

  it('RNFR (350) then RNTO (250) renames a file, also into another directory', async () => {
    await writeFile(join(t.root, 'old.txt'), 'content');
    const c = await loggedIn(t);
    await c.expectCmd('RNFR old.txt', 350, /^350 Ready for RNTO\.$/);
    await c.expectCmd('RNTO new.txt', 250, /^250 Rename successful\.$/);
    expect(existsSync(join(t.root, 'old.txt'))).toBe(false);
    expect(await readFile(join(t.root, 'new.txt'), 'utf8')).toBe('content');
    await c.expectCmd('RNFR new.txt', 350);
    await c.expectCmd('RNTO dir/moved.txt', 250);
    expect(await readFile(join(t.root, 'dir', 'moved.txt'), 'utf8')).toBe('content');
    // RNFR is used once.
    await c.expectCmd('RNTO again.txt', 503, /^503 RNFR required first\.$/);
    c.close();
  });

  it('renames a directory', async () => {
    await mkdir(join(t.root, 'olddir'));
    const c = await loggedIn(t);
    await c.expectCmd('RNFR olddir', 350);
    await c.expectCmd('RNTO newdir', 250);
    expect(existsSync(join(t.root, 'newdir'))).toBe(true);
    c.close();
  });

  it('RNFR of a missing file or of /: 550; RNTO into a missing directory: 550', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('RNFR nothere', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('RNTO x', 503);
    await c.expectCmd('RNFR /', 550, /^550 Permission denied\.$/);
    await c.expectCmd('RNFR ten.txt', 350);
    await c.expectCmd('RNTO nodir/ten.txt', 550, /^550 No such file or directory\.$/);
    expect(existsSync(join(t.root, 'ten.txt'))).toBe(true);
    await c.expectCmd('RNFR ten.txt', 350);
    await c.expectCmd('RNTO /', 553, /^553 File name not allowed\.$/);
    c.close();
  });

  it('SIZE: 550 in ASCII mode, the byte count in binary mode (213)', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('SIZE ten.txt', 550, /^550 SIZE not allowed in ASCII mode: send TYPE I\.$/);
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('SIZE ten.txt', 213, /^213 10$/);
    await c.expectCmd('SIZE dir', 550, /^550 Not a regular file\.$/);
    await c.expectCmd('SIZE nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('MDTM: 213 YYYYMMDDHHMMSS in UTC', async () => {
    await utimes(join(t.root, 'ten.txt'), new Date('2021-03-04T05:06:07Z'), new Date('2021-03-04T05:06:07.890Z'));
    const c = await loggedIn(t);
    await c.expectCmd('MDTM ten.txt', 213, /^213 20210304050607$/);
    await c.expectCmd('MDTM nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('MFMT sets the modification time (213 Modify=...; path)', async () => {
    await writeFile(join(t.root, 'stamp.txt'), 's');
    const c = await loggedIn(t);
    await c.expectCmd('MFMT 20200102030405 stamp.txt', 213, /^213 Modify=20200102030405; \/stamp\.txt$/);
    expect((await stat(join(t.root, 'stamp.txt'))).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    await c.expectCmd('MDTM stamp.txt', 213, /^213 20200102030405$/);
    // A path with spaces.
    await writeFile(join(t.root, 'with space.txt'), 's');
    await c.expectCmd('MFMT 19991231235959 with space.txt', 213, /^213 Modify=19991231235959; \/with space\.txt$/);
    expect((await stat(join(t.root, 'with space.txt'))).mtime.toISOString()).toBe('1999-12-31T23:59:59.000Z');
    c.close();
  });

  it('MFMT with a bad time or no path: 501; on a missing file: 550', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MFMT 2020010203040 stamp.txt', 501, /^501 Syntax: MFMT YYYYMMDDHHMMSS pathname$/);
    await c.expectCmd('MFMT 20201302030405 stamp.txt', 501);
    await c.expectCmd('MFMT 20200230030405 stamp.txt', 501);
    await c.expectCmd('MFMT 20200102030405', 501);
    await c.expectCmd('MFMT 20200102030405 ', 501);
    await c.expectCmd('MFMT', 501);
    await c.expectCmd('MFMT 20200102030405 nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('SITE CHMOD changes the mode bits (200)', async () => {
    await writeFile(join(t.root, 'mode.txt'), 'm');
    const c = await loggedIn(t);
    await c.expectCmd('SITE CHMOD 600 mode.txt', 200, /^200 SITE CHMOD command ok\.$/);
    expect((await stat(join(t.root, 'mode.txt'))).mode & 0o777).toBe(0o600);
    await c.expectCmd('site chmod 0754 mode.txt', 200);
    expect((await stat(join(t.root, 'mode.txt'))).mode & 0o777).toBe(0o754);
    await c.expectCmd('SITE CHMOD 700 dir', 200);
    expect((await stat(join(t.root, 'dir'))).mode & 0o777).toBe(0o700);
    c.close();
  });

  it('SITE CHMOD with a bad mode: 501; on a missing file: 550', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('SITE CHMOD 999 mode.txt', 501, /^501 Syntax: SITE CHMOD mode pathname$/);
    await c.expectCmd('SITE CHMOD rwx mode.txt', 501);
    await c.expectCmd('SITE CHMOD 644', 501);
    await c.expectCmd('SITE CHMOD 644 nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('SITE CHMOD refuses setuid, setgid and sticky bits (504) instead of dropping them; the mode is unchanged', async () => {
    await writeFile(join(t.root, 'special.txt'), 's');
    const c = await loggedIn(t);
    await c.expectCmd('SITE CHMOD 640 special.txt', 200);
    for (const mode of ['4755', '2755', '1777', '7777', '6000']) {
      await c.expectCmd(`SITE CHMOD ${mode} special.txt`, 504, /^504 SITE CHMOD: setuid, setgid and sticky bits are not allowed\.$/);
      await c.expectCmd(`SITE CHMOD ${mode} dir`, 504);
    }
    expect((await stat(join(t.root, 'special.txt'))).mode & 0o7777).toBe(0o640);
    await c.expectCmd('SITE CHMOD 0755 special.txt', 200); // a leading zero is not a special bit
    c.close();
  });

  it('SITE HELP lists the SITE commands; an unknown one is 504; SITE alone is 501', async () => {
    const c = await loggedIn(t);
    const help = await c.expectCmd('SITE HELP', 214);
    expect(help.lines).toEqual(['214-SITE commands:', ' SITE CHMOD <sp> mode <sp> pathname', ' SITE SYMLINK <sp> target <sp> link-name', ' SITE HELP', '214 End.']);
    await c.expectCmd('SITE FROB', 504, /^504 Unknown SITE command FROB\.$/);
    await c.expectCmd('SITE', 501, /^501 Syntax: SITE/);
    c.close();
  });
});
