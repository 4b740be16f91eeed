/**
 * Confinement to the user's root, over the FTP protocol against a LocalStorage root: `..` in every
 * spelling, absolute paths, backslashes, URL-encoded forms, symlinks that lead out (every command), and
 * races where a directory on the path is swapped for a symlink after the check. Also: names on disk
 * with control characters cannot add lines to listings or replies.
 *
 * Backslashes: on POSIX a backslash is an ordinary character of a name, never a separator, so
 * `..\..\etc` is one literal name inside the root: ftpsd allows such names (as vsftpd and the file system
 * do) and they can never escape. (On Windows LocalStorage refuses them.)
 */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import type { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { LocalStorage } from '../../src/storage/local.js';
import { tryDownload, tryUpload } from './transfer-helpers.js';

let base: string;
let root: string;
let outside: string;
let t: TestServer;
let c: RawClient;

/**
 * root/    inner.txt  sub/deep/data.txt  link-out-file -> outside/secret.txt  link-out-dir -> outside/outdir
 * outside/ secret.txt outdir/{data.txt, outside-only.txt, deep/{data.txt, outside-only.txt}}
 */
async function makeTree(): Promise<void> {
  base = await fs.realpath(await fs.mkdtemp(join(tmpdir(), 'ftpsd-paths-')));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await fs.mkdir(join(root, 'sub', 'deep'), { recursive: true });
  await fs.mkdir(join(outside, 'outdir', 'deep'), { recursive: true });
  await fs.writeFile(join(root, 'inner.txt'), 'inner');
  await fs.writeFile(join(root, 'sub', 'deep', 'data.txt'), 'inside data');
  await fs.writeFile(join(outside, 'outdir', 'deep', 'data.txt'), 'outside data');
  await fs.writeFile(join(outside, 'outdir', 'deep', 'outside-only.txt'), 'outside only');
  await fs.writeFile(join(outside, 'secret.txt'), 'secret');
  await fs.chmod(join(outside, 'secret.txt'), 0o640);
  await fs.writeFile(join(outside, 'outdir', 'data.txt'), 'outside data');
  await fs.writeFile(join(outside, 'outdir', 'outside-only.txt'), 'outside only');
  await fs.utimes(join(outside, 'secret.txt'), new Date('2010-01-01T00:00:00Z'), new Date('2010-01-01T00:00:00Z'));
  await fs.utimes(join(outside, 'outdir', 'data.txt'), new Date('2010-01-01T00:00:00Z'), new Date('2010-01-01T00:00:00Z'));
  await fs.symlink(join(outside, 'secret.txt'), join(root, 'link-out-file'));
  await fs.symlink('../outside/outdir', join(root, 'link-out-dir'));
}

/** Everything outside the root, with contents, modes and times, to compare before and after. */
async function snapshotOutside(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await fs.readdir(dir)).sort()) {
      const full = join(dir, name);
      const st = await fs.lstat(full);
      const body = st.isFile() ? await fs.readFile(full, 'utf8') : '';
      out.push(`${full.slice(base.length)} ${st.mode.toString(8)} ${st.mtimeMs} ${body}`);
      if (st.isDirectory()) await walk(full);
    }
  };
  for (const name of (await fs.readdir(base)).filter((n) => n !== 'root')) {
    const full = join(base, name);
    const st = await fs.lstat(full);
    out.push(`${name} ${st.mode.toString(8)} ${st.isFile() ? await fs.readFile(full, 'utf8') : ''}`);
    if (st.isDirectory()) await walk(full);
  }
  return out;
}

async function code(line: string): Promise<number> {
  return (await c.cmd(line)).code;
}

describe('confinement: paths that try to leave the root', () => {
  let before: string[];
  beforeEach(async () => {
    await makeTree();
    t = await startServer({ users: [{ name: USER, password: { plain: PASS }, home: root }] });
    c = await loggedIn(t, { binary: true });
    before = await snapshotOutside();
  });
  afterEach(async () => {
    c.close();
    await t.close();
    expect(await snapshotOutside(), 'nothing outside the root changed').toEqual(before);
    await fs.rm(base, { recursive: true, force: true });
  });

  const DOTDOT = [
    '../outside/secret.txt',
    '../../../../../../../../outside/secret.txt',
    './.././/.././outside/secret.txt',
    '..//..//..//outside//secret.txt',
    'sub/../../outside/secret.txt',
    'sub/./../.././../outside/./secret.txt',
    '/../../outside/secret.txt',
    '/./../outside/secret.txt',
    '...//../outside/secret.txt',
  ];

  it('.. in every spelling stops at the root: RETR, SIZE, MDTM, CWD', async () => {
    for (const p of DOTDOT) {
      const { reply, data } = await tryDownload(c, `RETR ${p}`);
      expect(reply.code, `RETR ${p}`).toBe(550);
      expect(data.length).toBe(0);
      expect(await code(`SIZE ${p}`), `SIZE ${p}`).toBe(550);
      expect(await code(`MDTM ${p}`), `MDTM ${p}`).toBe(550);
    }
    // ..-chains that name a directory end at the root, never above it
    for (const p of ['..', '../..', '../../../../../../..', './.././/..', '/..', 'sub/../..', '//..//..//']) {
      await c.expectCmd(`CWD ${p}`, 250);
      await c.expectCmd('PWD', 257, /^257 "\/" /);
    }
    await c.expectCmd('CWD ../outside', 550);
    await c.expectCmd('CWD sub', 250);
    await c.expectCmd('CWD ../../../..', 250);
    await c.expectCmd('PWD', 257, /^257 "\/" /);
    const { data } = await tryDownload(c, 'NLST ../..');
    expect(data.toString().split('\r\n').filter(Boolean).sort()).toEqual(['../../inner.txt', '../../sub']);
  });

  it('.. in uploads and MKD lands inside the root', async () => {
    expect((await tryUpload(c, 'STOR ../../../escape.txt', 'x')).code).toBe(226);
    expect(await fs.readFile(join(root, 'escape.txt'), 'utf8')).toBe('x');
    expect(await code('MKD ../../newdir')).toBe(257);
    expect((await fs.stat(join(root, 'newdir'))).isDirectory()).toBe(true);
    expect(await code('RNFR ../../inner.txt')).toBe(350);
    expect(await code('RNTO ../../../outside/stolen.txt')).toBe(550); // /outside does not exist in the root
    expect(await fs.readFile(join(root, 'inner.txt'), 'utf8')).toBe('inner');
  });

  it('absolute paths are relative to the root, also the real path of the root on disk', async () => {
    for (const p of ['/etc/passwd', '//etc//passwd', `${outside}/secret.txt`, `${root}/inner.txt`, '/proc/self/environ']) {
      const { reply, data } = await tryDownload(c, `RETR ${p}`);
      expect(reply.code, p).toBe(550);
      expect(data.length).toBe(0);
    }
    await c.expectCmd('CWD /etc', 550);
    await c.expectCmd(`CWD ${base}`, 550);
    await c.expectCmd('CWD /sub', 250);
    const { reply, data } = await tryDownload(c, 'RETR /inner.txt');
    expect(reply.code).toBe(226);
    expect(data.toString()).toBe('inner');
  });

  it('backslashes are ordinary characters: such a name is one file inside the root', async () => {
    for (const p of ['..\\..\\outside\\secret.txt', '..\\outside\\secret.txt', 'sub\\..\\..\\outside\\secret.txt']) {
      expect((await tryDownload(c, `RETR ${p}`)).reply.code, p).toBe(550);
    }
    await c.expectCmd('CWD ..\\..', 550);
    expect((await tryUpload(c, 'STOR ..\\..\\escape.txt', 'literal')).code).toBe(226);
    expect(await fs.readFile(join(root, '..\\..\\escape.txt'), 'utf8')).toBe('literal');
    expect(await code('MKD ..\\dir')).toBe(257);
    expect((await fs.stat(join(root, '..\\dir'))).isDirectory()).toBe(true);
    const { data } = await tryDownload(c, 'NLST');
    expect(data.toString().split('\r\n')).toContain('..\\..\\escape.txt');
    expect((await tryDownload(c, 'RETR ..\\..\\escape.txt')).data.toString()).toBe('literal');
  });

  it('URL-encoded forms are literal names', async () => {
    for (const p of ['%2e%2e/%2e%2e/outside/secret.txt', '%2e%2e%2f%2e%2e%2foutside%2fsecret.txt', '..%2f..%2foutside%2fsecret.txt', '%252e%252e/outside/secret.txt', '%c0%ae%c0%ae/outside/secret.txt']) {
      expect((await tryDownload(c, `RETR ${p}`)).reply.code, p).toBe(550);
    }
    await c.expectCmd('CWD %2e%2e', 550);
    expect(await code('MKD %2e%2e')).toBe(257);
    expect((await fs.stat(join(root, '%2e%2e'))).isDirectory()).toBe(true);
    expect((await tryUpload(c, 'STOR %2e%2e/%2e%2e%2fx', 'enc')).code).toBe(226);
    expect(await fs.readFile(join(root, '%2e%2e', '%2e%2e%2fx'), 'utf8')).toBe('enc');
  });

  it('symlinks leading out are invisible and refused for every command (file and directory)', async () => {
    for (const p of ['link-out-file', 'link-out-dir', 'link-out-dir/data.txt']) {
      expect((await tryDownload(c, `RETR ${p}`)).reply.code, `RETR ${p}`).toBe(550);
      expect(await code(`SIZE ${p}`), `SIZE ${p}`).toBe(550);
      expect(await code(`MDTM ${p}`), `MDTM ${p}`).toBe(550);
      expect(await code(`MLST ${p}`), `MLST ${p}`).toBe(550);
      expect(await code(`STAT ${p}`), `STAT ${p}`).toBe(550);
      expect(await code(`CWD ${p}`), `CWD ${p}`).toBe(550);
      expect(await code(`SITE CHMOD 777 ${p}`), `SITE CHMOD ${p}`).toBe(550);
      expect(await code(`MFMT 20200101000000 ${p}`), `MFMT ${p}`).toBe(550);
      expect(await code(`RNFR ${p === 'link-out-dir/data.txt' ? p : `${p}/x`}`), `RNFR ${p}`).toBe(550);
      expect(await code(`HASH ${p}`), `HASH ${p}`).toBe(550);
    }
    for (const cmd of ['LIST', 'NLST', 'MLSD']) {
      const { reply, data } = await tryDownload(c, `${cmd} link-out-dir`);
      expect(reply.code, `${cmd} link-out-dir`).toBe(550);
      expect(data.length).toBe(0);
      const all = await tryDownload(c, cmd);
      expect(all.reply.code).toBe(226);
      expect(all.data.toString(), `${cmd} hides the links`).not.toMatch(/link-out/);
    }
    for (const p of ['link-out-file', 'link-out-dir/data.txt', 'link-out-dir/new.txt']) {
      expect((await tryUpload(c, `STOR ${p}`, 'pwned')).code, `STOR ${p}`).toBe(550);
      expect((await tryUpload(c, `APPE ${p}`, 'pwned')).code, `APPE ${p}`).toBe(550);
      await c.expectCmd('REST 0', 350);
      expect((await tryUpload(c, `STOR ${p}`, 'pwned')).code, `REST+STOR ${p}`).toBe(550);
    }
    expect(await code('DELE link-out-dir/data.txt')).toBe(550);
    expect(await code('MKD link-out-dir/x')).toBe(550);
    expect(await code('RMD link-out-dir')).toBe(550);
    expect(await code('RNFR link-out-dir/data.txt')).toBe(550);
    expect(await code('RNFR inner.txt')).toBe(350);
    expect(await code('RNTO link-out-dir/planted.txt')).toBe(550);
    expect(await fs.readFile(join(root, 'inner.txt'), 'utf8')).toBe('inner');
    expect((await fs.lstat(join(root, 'link-out-file'))).isSymbolicLink()).toBe(true);
  });
});

/**
 * A LocalStorage whose next open of a path at or below `trigger` first runs `swap`: the window between
 * the check and the open. Paths opened through a held directory (`/proc/self/fd/N/name`) are matched by
 * where that directory is.
 */
class RacyStorage extends LocalStorage {
  trigger: string | undefined;
  swaps = 0;
  constructor(
    root: string,
    private readonly swap: () => Promise<void>,
    private readonly withProc: boolean,
    blockingMetadata: boolean,
  ) {
    super(root, { blockingMetadata });
  }

  protected override async openFile(real: string, flags: number, mode?: number): Promise<number> {
    let where = real;
    const m = /^\/proc\/self\/fd\/(\d+)(\/.*)?$/.exec(real);
    if (m) where = (await fs.readlink(`/proc/self/fd/${m[1]}`)) + (m[2] ?? '');
    if (this.trigger !== undefined && (where === this.trigger || where.startsWith(this.trigger + '/'))) {
      this.trigger = undefined;
      this.swaps++;
      await this.swap();
    }
    return super.openFile(real, flags, mode);
  }

  protected override async openedPath(fd: number): Promise<string | undefined> {
    return this.withProc ? super.openedPath(fd) : undefined;
  }
}

const hasProc = await fs.readlink('/proc/self/fd/0').then(
  () => true,
  () => false,
);

// Metadata calls on the event loop (the default) and through the thread pool: the same checks.
for (const [withProc, blocking] of [[true, true], [false, true], [true, false], [false, false]] as const) {
  const how = `${withProc ? '/proc/self/fd' : 'fstat fallback'}${blocking ? '' : ', thread-pool metadata'}`;
  describe.skipIf(withProc && !hasProc)(`races: a path swapped after the check (${how})`, () => {
    let storage: RacyStorage;
    let before: string[];
    /** `sub` becomes a symlink to outside/outdir (the real sub moves aside): sub/deep is outside now. */
    const swapDir = async () => {
      await fs.rename(join(root, 'sub'), join(root, 'sub.moved'));
      await fs.symlink(join(outside, 'outdir'), join(root, 'sub'));
    };
    /** `inner.txt` becomes a symlink to outside/secret.txt. */
    const swapFile = async () => {
      await fs.rm(join(root, 'inner.txt'));
      await fs.symlink(join(outside, 'secret.txt'), join(root, 'inner.txt'));
    };

    beforeEach(async () => {
      await makeTree();
      storage = new RacyStorage(root, () => swap(), withProc, blocking);
      swap = swapDir;
      t = await startServer({ users: [{ name: USER, password: { plain: PASS }, home: storage }] });
      c = await loggedIn(t, { binary: true });
      before = await snapshotOutside();
    });
    let swap = swapDir;
    afterEach(async () => {
      c.close();
      await t.close();
      expect(storage.swaps, 'the race was run').toBe(1);
      expect(await snapshotOutside(), 'nothing outside the root changed').toEqual(before);
      expect((await fs.readdir(join(outside, 'outdir', 'deep'))).sort()).toEqual(['data.txt', 'outside-only.txt']);
      await fs.rm(base, { recursive: true, force: true });
    });

    const arm = (path = join(root, 'sub')) => (storage.trigger = path);

    it('RETR reads nothing from outside', async () => {
      arm();
      const { reply, data } = await tryDownload(c, 'RETR sub/deep/data.txt');
      expect(reply.code).toBe(550);
      expect(data.toString()).not.toContain('outside');
    });

    for (const cmd of ['LIST', 'NLST', 'MLSD']) {
      it(`${cmd} shows nothing from outside`, async () => {
        arm();
        const { reply, data } = await tryDownload(c, `${cmd} sub/deep`);
        expect(reply.code).not.toBe(226);
        expect(data.toString()).not.toContain('outside-only');
      });
    }

    it('STOR of a new file writes nothing outside', async () => {
      arm();
      expect((await tryUpload(c, 'STOR sub/deep/new.txt', 'pwned')).code).toBe(550);
    });

    it('STOR replacing an existing file writes nothing outside', async () => {
      arm();
      expect((await tryUpload(c, 'STOR sub/deep/data.txt', 'pwned')).code).toBe(550);
      expect(await fs.readFile(join(root, 'sub.moved', 'deep', 'data.txt'), 'utf8')).toBe('inside data');
    });

    it('APPE writes nothing outside', async () => {
      arm();
      expect((await tryUpload(c, 'APPE sub/deep/data.txt', 'pwned')).code).toBe(550);
    });

    it('REST + STOR writes nothing outside', async () => {
      await c.expectCmd('REST 2', 350);
      arm();
      expect((await tryUpload(c, 'STOR sub/deep/data.txt', 'pwned')).code).toBe(550);
    });

    it('MKD creates nothing outside', async () => {
      arm();
      expect(await code('MKD sub/deep/planted')).toBe(550);
    });

    it('RMD removes nothing outside', async () => {
      await fs.mkdir(join(outside, 'outdir', 'deep', 'empty'));
      await fs.mkdir(join(root, 'sub', 'deep', 'empty'));
      before = await snapshotOutside();
      arm();
      expect(await code('RMD sub/deep/empty')).toBe(550);
      await fs.rmdir(join(outside, 'outdir', 'deep', 'empty'));
      before = await snapshotOutside();
    });

    it('DELE deletes nothing outside', async () => {
      arm();
      expect(await code('DELE sub/deep/data.txt')).toBe(550);
    });

    it('RNFR/RNTO moves nothing from outside', async () => {
      expect(await code('RNFR sub/deep/data.txt')).toBe(350);
      arm();
      expect(await code('RNTO moved.txt')).toBe(550);
      await expect(fs.stat(join(root, 'moved.txt'))).rejects.toThrow();
    });

    it('RNFR/RNTO moves nothing to outside', async () => {
      expect(await code('RNFR inner.txt')).toBe(350);
      arm();
      expect(await code('RNTO sub/deep/planted.txt')).toBe(550);
      expect(await fs.readFile(join(root, 'inner.txt'), 'utf8')).toBe('inner');
    });

    it('SITE CHMOD changes nothing outside', async () => {
      arm();
      expect(await code('SITE CHMOD 777 sub/deep/data.txt')).toBe(550);
    });

    it('MFMT changes nothing outside', async () => {
      arm();
      expect(await code('MFMT 20200101000000 sub/deep/data.txt')).toBe(550);
    });

    for (const [what, run] of [
      ['RETR', async () => (await tryDownload(c, 'RETR inner.txt')).reply.code],
      ['APPE', async () => (await tryUpload(c, 'APPE inner.txt', 'pwned')).code],
      ['SITE CHMOD', () => code('SITE CHMOD 777 inner.txt')],
      ['MFMT', () => code('MFMT 20200101000000 inner.txt')],
    ] as const) {
      it(`a final component swapped for a link is refused (O_NOFOLLOW, and the descriptor check): ${what}`, async () => {
        swap = swapFile;
        arm(join(root, 'inner.txt'));
        expect(await run()).toBe(550);
      });
    }
  });
}

describe('names with control characters cannot inject lines', () => {
  const EVIL = ['evil\r\n226 Transfer complete.', 'a\nb', 'bell\x07tab\tesc\x1b[31m', 'nel\u0085ls\u2028ps\u2029', 'c1\u009b2J'];
  beforeEach(async () => {
    await makeTree();
    for (const name of EVIL) await fs.writeFile(join(root, name), 'x');
    await fs.mkdir(join(root, 'dir\r\nwith lf'));
    t = await startServer({ users: [{ name: USER, password: { plain: PASS }, home: root }] });
    c = await loggedIn(t, { binary: true });
  });
  afterEach(async () => {
    c.close();
    await t.close();
    await fs.rm(base, { recursive: true, force: true });
  });

  const clean = (s: string) => !/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(s.replace(/\r\n/g, ''));

  it('LIST, NLST and MLSD: one line per entry, control characters shown as ?', async () => {
    const entries = (await fs.readdir(root)).length - 2; // the links leading out are hidden
    for (const cmd of ['LIST', 'NLST', 'MLSD']) {
      const { reply, data } = await tryDownload(c, cmd);
      expect(reply.code).toBe(226);
      const text = data.toString();
      expect(clean(text), `${cmd} has no bare control characters`).toBe(true);
      const lines = text.split('\r\n').slice(0, -1);
      expect(lines, cmd).toHaveLength(entries);
      expect(lines.some((l) => l.endsWith('evil??226 Transfer complete.')), cmd).toBe(true);
      expect(lines.some((l) => l.endsWith('dir??with lf')), cmd).toBe(true);
      expect(lines.some((l) => l.endsWith('bell?tab?esc?[31m')), cmd).toBe(true);
      expect(lines.some((l) => l.endsWith('nel?ls?ps?')), cmd).toBe(true);
    }
  });

  it('STAT and MLST replies stay one reply with safe lines; the session goes on', async () => {
    const stat = await c.cmd('STAT .');
    expect(stat.code).toBe(213);
    expect(stat.lines.every((l) => clean(l))).toBe(true);
    expect(stat.lines.some((l) => /evil\?\?226 Transfer complete\.$/.test(l))).toBe(true);
    // a client can still name such an entry with the bytes it may send (no CR/LF), e.g. with a tab
    const mlst = await c.cmd('MLST bell\x07tab\tesc\x1b[31m');
    expect(mlst.code).toBe(250);
    expect(mlst.lines.every((l) => clean(l))).toBe(true);
    await c.expectCmd('NOOP', 200);
    await c.expectCmd('CWD dir\r\nwith lf'.replace('\r\n', '??'), 550); // the shown name is not the real one
  });
});
