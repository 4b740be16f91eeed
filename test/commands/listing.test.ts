/**
 * LIST NLST MLSD MLST STAT (RFC 959, RFC 3659): exact line formats, facts and their selection, paths and
 * names (UTF-8 included).
 */
import { chmod, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { RO_PASS, RO_USER, startServer, usingServer, type TestServer } from '../helpers/server.js';
import { MemoryStorage } from '../../src/storage/memory.js';

const OLD = new Date(Date.UTC(2020, 0, 2, 3, 4, 5));
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const lines = (b: Buffer) => b.toString().split('\r\n').slice(0, -1);

describe('listings (memory storage)', () => {
  let t: TestServer;
  let storage: MemoryStorage;
  const recent = new Date(Date.now() - 2 * 86_400_000);
  recent.setUTCHours(10, 20, 30, 0);
  beforeAll(async () => {
    storage = new MemoryStorage({
      'a.txt': 'abc',
      sub: { 'b.txt': 'hello', deep: {} },
      'café ☕.txt': 'utf-8 name',
      'new.txt': 'recent',
    });
    for (const p of [['a.txt'], ['sub'], ['sub', 'b.txt'], ['sub', 'deep'], ['café ☕.txt']]) await storage.setTime(p, OLD);
    await storage.setTime(['new.txt'], recent);
    await storage.chmod(['new.txt'], 0o600);
    t = await startServer({ storage });
  });
  afterAll(() => t.close());

  it('LIST: ls -l lines, UTC dates, the year for old files and the time for recent ones', async () => {
    const c = await loggedIn(t);
    const got = lines(await download(c, 'LIST', { opening: /^150 Here comes the directory listing\.$/ }));
    const day = String(recent.getUTCDate()).padStart(2, ' ');
    expect(got).toEqual([
      '-rw-r--r--    1 ftp      ftp                 3 Jan  2  2020 a.txt',
      'drwxr-xr-x    1 ftp      ftp                 0 Jan  2  2020 sub',
      '-rw-r--r--    1 ftp      ftp                10 Jan  2  2020 café ☕.txt',
      `-rw-------    1 ftp      ftp                 6 ${MONTHS[recent.getUTCMonth()]} ${day} 10:20 new.txt`,
    ]);
    c.close();
  });

  it('LIST takes ls options (-la) and a path', async () => {
    const c = await loggedIn(t);
    expect(lines(await download(c, 'LIST -la'))).toHaveLength(4);
    expect(lines(await download(c, 'LIST -la sub'))).toEqual([
      '-rw-r--r--    1 ftp      ftp                 5 Jan  2  2020 b.txt',
      'drwxr-xr-x    1 ftp      ftp                 0 Jan  2  2020 deep',
    ]);
    expect(lines(await download(c, 'LIST -a -l /sub/'))).toHaveLength(2);
    await c.expectCmd('CWD sub', 250);
    expect(lines(await download(c, 'LIST'))).toHaveLength(2);
    expect(lines(await download(c, 'LIST ..'))).toHaveLength(4);
    c.close();
  });

  it('LIST of a file gives its one line', async () => {
    const c = await loggedIn(t);
    expect(lines(await download(c, 'LIST sub/b.txt'))).toEqual(['-rw-r--r--    1 ftp      ftp                 5 Jan  2  2020 b.txt']);
    c.close();
  });

  it('LIST and NLST of a missing path: 550 before any 150', async () => {
    const c = await loggedIn(t);
    await c.epsv();
    await c.expectCmd('LIST nothere', 550, /^550 No such file or directory\.$/);
    await c.epsv();
    await c.expectCmd('NLST nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('NLST: names; NLST dir: dir/name', async () => {
    const c = await loggedIn(t);
    expect(lines(await download(c, 'NLST'))).toEqual(['a.txt', 'sub', 'café ☕.txt', 'new.txt']);
    expect(lines(await download(c, 'NLST sub'))).toEqual(['sub/b.txt', 'sub/deep']);
    expect(lines(await download(c, 'NLST sub/'))).toEqual(['sub/b.txt', 'sub/deep']);
    expect(lines(await download(c, 'NLST /sub'))).toEqual(['/sub/b.txt', '/sub/deep']);
    expect(lines(await download(c, 'NLST -la'))).toEqual(['a.txt', 'sub', 'café ☕.txt', 'new.txt']);
    expect(lines(await download(c, 'NLST a.txt'))).toEqual(['a.txt']);
    c.close();
  });

  it('MLSD: the default facts of every entry', async () => {
    const c = await loggedIn(t);
    const got = lines(await download(c, 'MLSD'));
    expect(got).toHaveLength(4);
    expect(got[0]).toMatch(/^type=file;size=3;modify=20200102030405;perm=adfrw;unique=m[0-9a-f]+;UNIX\.mode=0644; a\.txt$/);
    expect(got[1]).toMatch(/^type=dir;modify=20200102030405;perm=cdeflmp;unique=m[0-9a-f]+;UNIX\.mode=0755; sub$/);
    expect(got[2]).toMatch(/^type=file;size=10;modify=20200102030405;perm=adfrw;unique=m[0-9a-f]+;UNIX\.mode=0644; café ☕\.txt$/);
    expect(got[3]).toMatch(/^type=file;size=6;modify=\d{14};perm=adfrw;unique=m[0-9a-f]+;UNIX\.mode=0600; new\.txt$/);
    const uniques = got.map((l) => /unique=([^;]+);/.exec(l)![1]);
    expect(new Set(uniques).size).toBe(4);
    expect(lines(await download(c, 'MLSD sub'))[0]).toMatch(/^type=file;size=5;.* b\.txt$/);
    c.close();
  });

  it('MLSD: perm shows what the read-only user may do', async () => {
    const c = await loggedIn(t, { user: RO_USER, pass: RO_PASS });
    const got = lines(await download(c, 'MLSD'));
    expect(got[0]).toMatch(/;perm=r;.* a\.txt$/);
    expect(got[1]).toMatch(/;perm=el;.* sub$/);
    c.close();
  });

  it('MLSD of a file is 501, of a missing path 550', async () => {
    const c = await loggedIn(t);
    await c.epsv();
    await c.expectCmd('MLSD a.txt', 501, /^501 Not a directory\.$/);
    await c.epsv();
    await c.expectCmd('MLSD nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('MLST: 250 with the facts on one continuation line', async () => {
    const c = await loggedIn(t);
    const r = await c.expectCmd('MLST a.txt', 250);
    expect(r.lines).toHaveLength(3);
    expect(r.lines[0]).toBe('250-Listing /a.txt');
    expect(r.lines[1]).toMatch(/^ type=file;size=3;modify=20200102030405;perm=adfrw;unique=m[0-9a-f]+;UNIX\.mode=0644; \/a\.txt$/);
    expect(r.lines[2]).toBe('250 End.');
    const root = await c.expectCmd('MLST', 250);
    expect(root.lines[0]).toBe('250-Listing /');
    expect(root.lines[1]).toMatch(/^ type=dir;modify=\d{14};perm=cdeflmp;unique=m[0-9a-f]+;UNIX\.mode=0755; \/$/);
    await c.expectCmd('CWD sub', 250);
    const rel = await c.expectCmd('MLST b.txt', 250);
    expect(rel.lines[1]).toMatch(/^ type=file;size=5;.*; \/sub\/b\.txt$/);
    await c.expectCmd('MLST nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('OPTS MLST selects the facts (FEAT marks them with *), unknown facts are ignored', async () => {
    const c = await loggedIn(t);
    const before = await c.expectCmd('FEAT', 211);
    expect(before.lines).toContain(' MLST type*;size*;modify*;perm*;unique*;UNIX.mode*;');
    await c.expectCmd('OPTS MLST Type;Size;bogus;', 200, /^200 MLST OPTS type;size;$/);
    const after = await c.expectCmd('FEAT', 211);
    expect(after.lines).toContain(' MLST type*;size*;modify;perm;unique;UNIX.mode;');
    expect(lines(await download(c, 'MLSD'))).toEqual(['type=file;size=3; a.txt', 'type=dir; sub', 'type=file;size=10; café ☕.txt', 'type=file;size=6; new.txt']);
    const r = await c.expectCmd('MLST a.txt', 250);
    expect(r.lines[1]).toBe(' type=file;size=3; /a.txt');
    await c.expectCmd('OPTS MLST unix.MODE;modify', 200, /^200 MLST OPTS modify;UNIX\.mode;$/);
    expect(lines(await download(c, 'MLSD sub'))).toEqual(['modify=20200102030405;UNIX.mode=0644; b.txt', 'modify=20200102030405;UNIX.mode=0755; deep']);
    // No facts at all.
    await c.expectCmd('OPTS MLST', 200, /^200 MLST OPTS$/);
    expect((await c.expectCmd('MLST a.txt', 250)).lines[1]).toBe('  /a.txt');
    c.close();
  });

  it('STAT path: 213 with ls lines of a directory or a file', async () => {
    const c = await loggedIn(t);
    const dir = await c.expectCmd('STAT sub', 213);
    expect(dir.lines).toEqual([
      '213-Status of /sub:',
      '-rw-r--r--    1 ftp      ftp                 5 Jan  2  2020 b.txt',
      'drwxr-xr-x    1 ftp      ftp                 0 Jan  2  2020 deep',
      '213 End of status.',
    ]);
    const file = await c.expectCmd('STAT -l a.txt', 213);
    expect(file.lines).toEqual(['213-Status of /a.txt:', '-rw-r--r--    1 ftp      ftp                 3 Jan  2  2020 a.txt', '213 End of status.']);
    await c.expectCmd('STAT nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('STAT path needs a login (530)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('STAT sub', 530);
    c.close();
  });

  it('STAT without an argument: 211 multi-line session status', async () => {
    const c = await loggedIn(t);
    const r = await c.expectCmd('STAT', 211);
    expect(r.lines).toEqual([
      '211-ftpsd status:',
      'Connected from 127.0.0.1',
      'Logged in as alice',
      'TYPE: ASCII, STRUcture: File, MODE: Stream',
      'Control connection: plain; data protection: Clear',
      '211 End of status.',
    ]);
    c.close();
  });

  it('UTF-8 names round-trip through STOR, LIST, NLST, MLSD, RETR, RNFR/RNTO, DELE', async () => {
    const c = await loggedIn(t, { binary: true });
    const name = 'Grüße 日本語 ☕.txt';
    await upload(c, `STOR ${name}`, 'unicode body');
    expect(lines(await download(c, 'NLST'))).toContain(name);
    expect(lines(await download(c, 'LIST')).some((l) => l.endsWith(` ${name}`))).toBe(true);
    expect(lines(await download(c, 'MLSD')).some((l) => l.endsWith(`; ${name}`))).toBe(true);
    expect((await download(c, `RETR ${name}`)).toString()).toBe('unicode body');
    await c.expectCmd(`SIZE ${name}`, 213, /^213 12$/);
    await c.expectCmd(`RNFR ${name}`, 350);
    await c.expectCmd('RNTO ünïcödé.txt', 250);
    expect(lines(await download(c, 'NLST'))).toContain('ünïcödé.txt');
    await c.expectCmd('DELE ünïcödé.txt', 250);
    expect(lines(await download(c, 'NLST'))).not.toContain('ünïcödé.txt');
    c.close();
  });

  it('streams a large directory', async () => {
    const tree: Record<string, string> = {};
    for (let i = 0; i < 3000; i++) tree[`file-${String(i).padStart(5, '0')}.dat`] = '';
    await usingServer({ storage: new MemoryStorage(tree) }, async (t2) => {
      const c = await loggedIn(t2);
      const got = lines(await download(c, 'NLST'));
      expect(got).toHaveLength(3000);
      expect(got[2999]).toBe('file-02999.dat');
      expect(lines(await download(c, 'LIST'))).toHaveLength(3000);
      c.close();
    });
  });
});

describe('listings (local storage)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
    await writeFile(join(t.root, 'file.txt'), 'hello');
    await chmod(join(t.root, 'file.txt'), 0o640);
    await utimes(join(t.root, 'file.txt'), OLD, OLD);
    await mkdir(join(t.root, 'dir'));
    await chmod(join(t.root, 'dir'), 0o750);
    await utimes(join(t.root, 'dir'), OLD, OLD);
    // An upload in flight (a hidden temporary file) is never listed.
    await writeFile(join(t.root, '.ftpsd-upload-0123456789abcdef'), 'partial');
  });
  afterAll(() => t.close());

  it('LIST shows mode bits, size and date from the disk; temporary upload files are hidden', async () => {
    const c = await loggedIn(t);
    const got = lines(await download(c, 'LIST')).sort();
    expect(got).toHaveLength(2);
    expect(got[0]).toMatch(/^-rw-r-----\s+1 \S+\s+\S+\s+5 Jan  2  2020 file\.txt$/);
    expect(got[1]).toMatch(/^drwxr-x---\s+\d+ \S+\s+\S+\s+\d+ Jan  2  2020 dir$/);
    expect(lines(await download(c, 'NLST')).sort()).toEqual(['dir', 'file.txt']);
    c.close();
  });

  it('MLSD facts from the disk', async () => {
    const c = await loggedIn(t);
    const got = lines(await download(c, 'MLSD')).sort();
    expect(got[0]).toMatch(/^type=dir;modify=20200102030405;perm=cdeflmp;unique=[0-9a-f]+g[0-9a-f]+;UNIX\.mode=0750; dir$/);
    expect(got[1]).toMatch(/^type=file;size=5;modify=20200102030405;perm=adfrw;unique=[0-9a-f]+g[0-9a-f]+;UNIX\.mode=0640; file\.txt$/);
    c.close();
  });
});
