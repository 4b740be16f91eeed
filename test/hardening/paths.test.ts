/**
 * Confinement to the user's root, over the FTP protocol against a LocalStorage root: `..` in every
 * spelling, absolute paths, backslashes, URL-encoded forms, and symlinks that lead out (every command).
 * Races are in path-races.test.ts, names with control characters in safe-names.test.ts.
 *
 * Backslashes: on POSIX a backslash is an ordinary character of a name, never a separator, so
 * `..\..\etc` is one literal name inside the root: ftpsd allows such names (as vsftpd and the file system
 * do) and they can never escape. (On Windows LocalStorage refuses them.)
 */
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { base, c, code, makeTree, outside, root, serve, snapshotOutside, t } from './path-tree.js';
import { tryDownload, tryUpload } from './transfer-helpers.js';

describe('confinement: paths that try to leave the root', () => {
  let before: string[];
  beforeEach(async () => {
    await makeTree();
    await serve(root);
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
