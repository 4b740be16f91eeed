/**
 * Optional storage capabilities switch their commands (and FEAT lines) on: setTime <-> MFMT, chmod <->
 * SITE CHMOD, checksum <-> HASH (and OPTS HASH), freeSpace <-> AVBL, symlink <-> SITE SYMLINK. Then AVBL
 * and SITE SYMLINK in detail (LocalStorage: relative links, confined to the root, no widening of rules).
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, readlink, statfs, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createServer, LocalStorage, MemoryStorage, type FtpsdServer, type Storage, type UserOption } from '../../src/index.js';
import { download, loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { requiredOnly } from '../helpers/storage.js';
import { portOf, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

let server: FtpsdServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const CAPABILITIES = ['setTime', 'chmod', 'checksum', 'freeSpace', 'symlink'] as const;
type Capability = (typeof CAPABILITIES)[number];

/** A storage with the required methods of `memory` and only the capabilities named. */
function storageWith(memory: MemoryStorage, caps: readonly Capability[]): Storage & { linked: string[] } {
  const linked: string[] = [];
  const s: Storage & { linked: string[] } = { ...requiredOnly(memory), linked };
  if (caps.includes('setTime')) s.setTime = (p, t) => memory.setTime(p, t);
  if (caps.includes('chmod')) s.chmod = (p, m) => memory.chmod(p, m);
  if (caps.includes('checksum')) s.checksum = (p, a, from, to) => memory.checksum(p, a, from, to);
  if (caps.includes('freeSpace')) s.freeSpace = async () => 123_456_789;
  if (caps.includes('symlink')) {
    s.symlink = async (target, link) => {
      linked.push(`${link.join('/')} -> ${target.join('/')}`);
    };
  }
  return s;
}

async function serve(storage: Storage | undefined, extra: { root?: string; users?: UserOption[] } = {}): Promise<FtpsdServer> {
  server = createServer({
    listen: '127.0.0.1:0',
    tlsRequired: 'off',
    users: extra.users ?? [{ name: 'u', password: 'p' }],
    ...(storage ? { storage } : { root: extra.root! }),
  });
  await server.listen();
  return server;
}

async function login(s: FtpsdServer, user = 'u', pass = 'p'): Promise<RawClient> {
  const c = await RawClient.connect(portOf(s));
  await c.login(user, pass);
  return c;
}

describe('capabilities switch commands on and off', () => {
  it('a storage with no capability: no MFMT, HASH, AVBL, SITE CHMOD, SITE SYMLINK anywhere', async () => {
    const s = await serve(storageWith(new MemoryStorage({ 'f.txt': 'x', d: {} }), []));
    const c = await login(s);
    const feat = (await c.expectCmd('FEAT', 211)).lines.map((l) => l.trim());
    for (const line of feat) expect(line).not.toMatch(/^(MFMT|HASH|AVBL)/);
    const help = (await c.expectCmd('HELP', 214)).text;
    for (const verb of ['MFMT', 'HASH', 'AVBL']) expect(help).not.toMatch(new RegExp(`\\b${verb}\\b`));
    await c.expectCmd('MFMT 20200101000000 f.txt', 502, /^502 Command not implemented\.$/);
    await c.expectCmd('HASH f.txt', 502, /^502 Command not implemented\.$/);
    await c.expectCmd('AVBL', 502, /^502 Command not implemented\.$/);
    await c.expectCmd('OPTS HASH MD5', 501, /^501 Option not understood\.$/);
    await c.expectCmd('SITE HELP', 214, /^214-SITE commands:\r\n SITE HELP\r\n214 End\.$/);
    await c.expectCmd('SITE CHMOD 600 f.txt', 504, /^504 Unknown SITE command CHMOD\.$/);
    await c.expectCmd('SITE SYMLINK f.txt g', 504, /^504 Unknown SITE command SYMLINK\.$/);
    // ALLO does not need freeSpace: without it nothing is refused.
    await c.expectCmd('ALLO 999999999999', 202);
    c.close();
  });

  const cases: [Capability, string | undefined, string, RegExp][] = [
    ['setTime', 'MFMT', 'MFMT 20200102030405 f.txt', /^213 Modify=20200102030405; \/f\.txt$/],
    ['chmod', undefined, 'SITE CHMOD 600 f.txt', /^200 SITE CHMOD command ok\.$/],
    ['checksum', 'HASH SHA-256*;SHA-1;MD5;CRC32', 'HASH f.txt', new RegExp(`^213 SHA-256 0-1 ${createHash('sha256').update('x').digest('hex')} /f\\.txt$`)],
    ['freeSpace', 'AVBL', 'AVBL', /^213 123456789$/],
    ['symlink', undefined, 'SITE SYMLINK f.txt link', /^200 SITE SYMLINK command ok\.$/],
  ];
  for (const [cap, featLine, command, expected] of cases) {
    it(`${cap} alone switches on ${command.split(' ').slice(0, cap === 'chmod' || cap === 'symlink' ? 2 : 1).join(' ')}`, async () => {
      const storage = storageWith(new MemoryStorage({ 'f.txt': 'x' }), [cap]);
      const s = await serve(storage);
      const c = await login(s);
      const feat = (await c.expectCmd('FEAT', 211)).lines.map((l) => l.trim());
      if (featLine) expect(feat).toContain(featLine);
      const others = cases.filter(([other]) => other !== cap).map(([, line]) => line?.split(' ')[0]).filter(Boolean);
      for (const other of others) expect(feat.some((l) => l.startsWith(other!))).toBe(false);
      const r = await c.cmd(command);
      expect(r.text).toMatch(expected);
      if (cap === 'symlink') expect(storage.linked).toEqual(['link -> f.txt']);
      c.close();
    });
  }

  it('before login FEAT announces every capability command (the storage is not known yet)', async () => {
    const s = await serve(storageWith(new MemoryStorage(), []));
    const c = await RawClient.connect(portOf(s));
    const feat = (await c.expectCmd('FEAT', 211)).lines.map((l) => l.trim());
    expect(feat).toEqual(expect.arrayContaining(['MFMT', 'AVBL', 'HASH SHA-256*;SHA-1;MD5;CRC32']));
    c.close();
  });

  it('LocalStorage and MemoryStorage have checksum (by reading); MemoryStorage has no freeSpace or symlink', () => {
    expect(typeof new LocalStorage('/tmp').checksum).toBe('function');
    expect(typeof new LocalStorage('/tmp').symlink).toBe('function');
    expect(typeof new LocalStorage('/tmp').freeSpace).toBe('function');
    const memory = new MemoryStorage();
    expect(typeof memory.checksum).toBe('function');
    expect('freeSpace' in memory).toBe(false);
    expect('symlink' in memory).toBe(false);
  });
});

describe('AVBL', () => {
  it('the free bytes of the file system below a directory; 550 for a file or a missing path', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'sub'));
    await writeFile(join(root, 'f.txt'), 'x');
    const s = await serve(undefined, { root });
    const c = await login(s);
    const r = await c.expectCmd('AVBL', 213, /^213 \d+$/);
    const st = await statfs(root);
    const reported = Number(r.text.slice(4));
    expect(Math.abs(reported - st.bavail * st.bsize)).toBeLessThan(256 * 1024 * 1024);
    await c.expectCmd('AVBL sub', 213, /^213 \d+$/);
    await c.expectCmd('AVBL /sub/', 213, /^213 \d+$/);
    await c.expectCmd('AVBL f.txt', 550, /^550 Not a directory\.$/);
    await c.expectCmd('AVBL nothere', 550, /^550 No such file or directory\.$/);
    c.close();
  });

  it('a user with a quota sees what is left of it', async () => {
    const root = await tempDir();
    const s = await serve(undefined, { root, users: [{ name: 'u', password: 'p', quota: { bytes: 1000 } }] });
    const c = await login(s);
    await c.expectCmd('AVBL', 213, /^213 1000$/);
    await c.expectCmd('TYPE I', 200);
    const data = await c.epsv();
    c.send('STOR hundred.bin');
    await c.expect(150);
    data.end(Buffer.alloc(100));
    await c.expect(226);
    await c.expectCmd('AVBL', 213, /^213 900$/);
    // A quota'd home has no SITE SYMLINK: removing a link would uncount its target.
    await c.expectCmd('SITE SYMLINK hundred.bin l', 504);
    c.close();
  });

  it('needs the list permission on the directory', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'hidden'));
    const s = await serve(undefined, { root, users: [{ name: 'u', password: 'p', rules: [{ path: '/hidden', deny: ['list'] }] }] });
    const c = await login(s);
    await c.expectCmd('AVBL hidden', 550, /^550 Permission denied\.$/);
    c.close();
  });
});

describe('SITE SYMLINK on LocalStorage', () => {
  it('makes a relative link inside the root; downloads and listings go through it; DELE removes only the link', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'docs'));
    await writeFile(join(root, 'docs', 'a.txt'), 'alpha');
    await mkdir(join(root, 'links'));
    const s = await serve(undefined, { root });
    const c = await login(s);
    await c.expectCmd('SITE SYMLINK docs/a.txt links/a-link.txt', 200, /^200 SITE SYMLINK command ok\.$/);
    expect(await readlink(join(root, 'links', 'a-link.txt'))).toBe(join('..', 'docs', 'a.txt'));
    await c.expectCmd('CWD links', 250);
    await c.expectCmd('SITE SYMLINK ../docs "docs link"', 200);
    expect(await readlink(join(root, 'links', 'docs link'))).toBe(join('..', 'docs'));
    await c.expectCmd('TYPE I', 200);
    expect((await download(c, 'RETR a-link.txt')).toString()).toBe('alpha');
    expect((await download(c, 'NLST docs link')).toString()).toBe('docs link/a.txt\r\n');
    await c.expectCmd('DELE a-link.txt', 250);
    expect((await lstat(join(root, 'docs', 'a.txt'))).isFile()).toBe(true);
    c.close();
  });

  it('refuses: an existing name, a missing target, a target that leads out of the root, the root, bad syntax', async () => {
    const root = await tempDir();
    const outside = await tempDir();
    await writeFile(join(outside, 'secret'), 'outside');
    await writeFile(join(root, 'f.txt'), 'x');
    await writeFile(join(root, 'g.txt'), 'y');
    await symlink(outside, join(root, 'out'));
    const s = await serve(undefined, { root });
    const c = await login(s);
    await c.expectCmd('SITE SYMLINK f.txt g.txt', 550, /^550 File exists\.$/);
    await c.expectCmd('SITE SYMLINK missing.txt l', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('SITE SYMLINK out/secret l', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('SITE SYMLINK ../../../../etc/passwd l', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('SITE SYMLINK f.txt /', 553, /^553 File name not allowed\.$/);
    await c.expectCmd('SITE SYMLINK f.txt', 501, /^501 Syntax: SITE SYMLINK target link-name$/);
    await c.expectCmd('SITE SYMLINK', 501, /^501 Syntax: SITE SYMLINK <sp> target <sp> link-name$/);
    await c.expectCmd('SITE SYMLINK a b c', 501);
    await expect(lstat(join(root, 'l'))).rejects.toMatchObject({ code: 'ENOENT' });
    c.close();
  });

  it('never widens permissions: write where the link goes, nothing more allowed there than at the target', async () => {
    const root = await tempDir();
    for (const d of ['pub', 'private', 'ro', 'tree', 'tree/locked']) await mkdir(join(root, d));
    await writeFile(join(root, 'private', 'secret.txt'), 'secret');
    await writeFile(join(root, 'pub', 'open.txt'), 'open');
    const s = await serve(undefined, {
      root,
      users: [
        {
          name: 'u',
          password: 'p',
          rules: [
            { path: '/private', deny: ['read', 'list'] },
            { path: '/ro', deny: ['write', 'append', 'delete', 'rename', 'mkdir', 'rmdir', 'chmod', 'settime'] },
            { path: '/tree/locked', deny: ['read'] },
          ],
        },
        { name: 'reader', password: 'r', readOnly: true },
      ],
    });
    const c = await login(s);
    const widen = /^550 Permission denied: the link would allow more than its target\.$/;
    await c.expectCmd('SITE SYMLINK private/secret.txt pub/leak.txt', 550, widen);
    await c.expectCmd('SITE SYMLINK private pub/leak', 550, widen);
    await c.expectCmd('SITE SYMLINK pub/open.txt ro/l.txt', 550, /^550 Permission denied\.$/);
    // A directory with a rule inside it would carry that subtree out of its rule.
    await c.expectCmd('SITE SYMLINK tree pub/tree', 550, widen);
    // Linking into a place with fewer permissions is fine: the link allows less.
    await c.expectCmd('SITE SYMLINK pub/open.txt private/open.txt', 200);
    c.close();
    const reader = await login(s, 'reader', 'r');
    await reader.expectCmd('SITE SYMLINK pub/open.txt pub/mine.txt', 550, /^550 Permission denied\.$/);
    reader.close();
  });
});
