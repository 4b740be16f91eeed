/**
 * The drop box as documented (src/auth/rules.ts, docs/permissions.md): a second user tries every verb
 * against a first user's upload in /incoming. Nothing may leak (content, size, time, listing, whether a
 * name exists where the verb creates nothing) and nothing may change (content, mode, time, name).
 *
 * Two spellings of the drop box: everything as the base set with `/incoming: allow [write, mkdir], deny
 * [read, list, delete]`, and a read-only base set with `/incoming: allow [write, mkdir], deny [read, list]`.
 * Verbs that create (STOR, MKD, STOU, CWD into a directory) necessarily tell a taken name from a free one;
 * every other verb must answer the same for the upload and for a name that does not exist.
 */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UserAccount } from '../../src/auth/users.js';
import { loggedIn } from '../helpers/flows.js';
import type { FtpReply, RawClient } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tryDownload, tryUpload } from './transfer-helpers.js';

const BODY = 'alice private upload';
const OLD = new Date('2020-01-02T03:04:05Z');

const DROP_BOX = { path: '/incoming', allow: ['write', 'mkdir'], deny: ['read', 'list', 'delete'] } as const;
// The example of docs/configuration.md (Permissions, rules and quotas).
const CONFIG_DOC_DROP_BOX = { path: '/incoming', allow: ['write', 'mkdir'], deny: ['read', 'list'] } as const;

let t: TestServer;
let root: string;
const home = (...p: string[]) => join(root, ...p);

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'ftpsd-dropbox-'));
  const users: UserAccount[] = [
    { name: 'alice', password: { plain: 'pw' }, home: root, rules: [DROP_BOX] },
    { name: 'mallory', password: { plain: 'pw' }, home: root, rules: [DROP_BOX] },
    { name: 'eve', password: { plain: 'pw' }, home: root, permissions: ['list', 'read'], rules: [CONFIG_DOC_DROP_BOX] },
  ];
  t = await startServer({ users });
  await fs.mkdir(home('incoming'));
  const alice = await loggedIn(t, { user: 'alice', pass: 'pw', binary: true });
  expect((await tryUpload(alice, 'STOR /incoming/alice.txt', BODY)).code).toBe(226);
  await alice.expectCmd('MKD /incoming/alicedir', 257);
  expect((await tryUpload(alice, 'STOR /incoming/alicedir/inner.txt', 'inner')).code).toBe(226);
  alice.close();
  await fs.chmod(home('incoming', 'alice.txt'), 0o640);
  await fs.utimes(home('incoming', 'alice.txt'), OLD, OLD);
});
afterAll(async () => {
  await t.close();
  await fs.rm(root, { recursive: true, force: true });
});

interface Snapshot {
  top: string[];
  names: string[];
  inner: string[];
  body: string;
  mode: number;
  mtime: number;
}

async function snapshot(): Promise<Snapshot> {
  const st = await fs.stat(home('incoming', 'alice.txt'));
  return {
    top: (await fs.readdir(root)).filter((n) => !n.endsWith('-own.txt')).sort(),
    names: (await fs.readdir(home('incoming'))).sort(),
    inner: (await fs.readdir(home('incoming', 'alicedir'))).sort(),
    body: await fs.readFile(home('incoming', 'alice.txt'), 'utf8'),
    mode: st.mode & 0o7777,
    mtime: st.mtimeMs,
  };
}

/** One verb's final reply (and any data) for a command line; `{}` is the target's name. */
async function attempt(c: RawClient, line: string): Promise<{ reply: FtpReply; data: string }> {
  const verb = line.split(' ')[0]!;
  if (['RETR', 'LIST', 'NLST', 'MLSD'].includes(verb)) {
    const { reply, data } = await tryDownload(c, line);
    return { reply, data: data.toString() };
  }
  if (['STOR', 'APPE', 'STOU'].includes(verb)) return { reply: await tryUpload(c, line, 'tampered'), data: '' };
  if (verb === 'REST') {
    await c.expectCmd(line.slice(0, line.indexOf(';')), 350);
    return { reply: await tryUpload(c, line.slice(line.indexOf(';') + 1), 'tampered'), data: '' };
  }
  if (verb === 'RNFR') {
    const [from, to] = line.split(';') as [string, string];
    const first = await c.cmd(from);
    if (first.code !== 350) return { reply: first, data: '' };
    return { reply: await c.cmd(to), data: '' };
  }
  return { reply: await c.cmd(line), data: '' };
}

/** Verbs that create nothing: each must fail, and fail alike for the upload `{}` and a missing name. */
const NON_CREATING = [
  'RETR {}',
  'LIST {}',
  'NLST {}',
  'MLSD {}',
  'MLST {}',
  'SIZE {}',
  'MDTM {}',
  'STAT {}',
  'HASH {}',
  'DELE {}',
  'RNFR {};RNTO /stolen.txt',
  'RNFR {};RNTO /incoming/renamed.txt',
  'APPE {}',
  'REST 5;STOR {}',
  `REST ${BODY.length};STOR {}`,
  'SITE CHMOD 000 {}',
  'SITE CHMOD 777 {}',
  'MFMT 20300101000000 {}',
  'SITE SYMLINK {} /link-out',
  'SITE SYMLINK {} /incoming/link-in',
  'CWD {}',
  'RMD {}',
];

describe.each(['mallory', 'eve'])('a drop box, as %s against alice', (user) => {
  let c: RawClient;
  let before: Snapshot;
  beforeAll(async () => {
    before = await snapshot();
    c = await loggedIn(t, { user, pass: 'pw', binary: true });
  });
  afterAll(() => c.close());

  it.each(NON_CREATING)('%s fails and answers the same for the upload and for a missing name', async (template) => {
    const pairs = [['/incoming/alice.txt', '/incoming/nothere.txt']];
    // (CWD into a directory succeeds: entering is allowed, so it tells directories from missing names)
    if (!template.startsWith('CWD')) pairs.push(['incoming/alicedir', 'incoming/nodir']);
    for (const [target, missing] of pairs as [string, string][]) {
      const onIt = await attempt(c, template.replaceAll('{}', target));
      const onMissing = await attempt(c, template.replaceAll('{}', missing));
      expect(onIt.reply.code, template).toBeGreaterThanOrEqual(500);
      expect(onIt.data, template).toBe('');
      expect(onIt.reply.lines ?? onIt.reply.text, template).toEqual(onMissing.reply.lines ?? onMissing.reply.text);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('listing the drop box or anything in it is refused, from outside and from inside', async () => {
    for (const line of ['LIST /incoming', 'NLST /incoming', 'MLSD /incoming', 'LIST /incoming/alicedir']) {
      const { reply, data } = await attempt(c, line);
      expect(reply.code, line).toBe(550);
      expect(data, line).toBe('');
    }
    for (const line of ['MLST /incoming', 'STAT /incoming', 'STAT /incoming/alicedir']) expect((await c.cmd(line)).code, line).toBe(550);
    // entering a directory works (uploads use relative names), but shows nothing there
    await c.expectCmd('CWD /incoming/alicedir', 250);
    for (const line of ['LIST', 'NLST', 'MLSD', 'RETR inner.txt']) expect((await attempt(c, line)).reply.code, line).toBe(550);
    for (const line of ['STAT .', 'MLST .', 'SIZE inner.txt', 'MDTM inner.txt', 'DELE inner.txt', 'RNFR inner.txt']) {
      expect((await c.cmd(line)).code, line).toBe(550);
    }
    await c.expectCmd('CWD /', 250);
    expect(await snapshot()).toEqual(before);
  });

  it('an upload may not replace the file: STOR onto it, REST + STOR, and RNTO onto it are refused', async () => {
    expect((await attempt(c, 'STOR /incoming/alice.txt')).reply.code).toBe(550);
    await c.expectCmd('REST 0', 350);
    expect((await tryUpload(c, 'STOR /incoming/alice.txt', 'tampered')).code).toBe(550);
    await fs.writeFile(home(`${user}-own.txt`), 'mine');
    // into the drop box: a new name or onto the upload; a user whose base set lacks rename fails at RNFR
    for (const to of ['/incoming/alice.txt', '/incoming/moved-in.txt']) {
      const { reply } = await attempt(c, `RNFR /${user}-own.txt;RNTO ${to}`);
      expect(reply.code, to).toBe(550);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('verbs that create: MKD and STOU on the name leave the upload alone; STOU does not tell a taken name', async () => {
    expect((await c.cmd('MKD /incoming/alice.txt')).code).toBe(550);
    for (const name of ['alice.txt', 'nothere.txt']) {
      const stou = await attempt(c, `STOU /incoming/${name}`);
      expect(stou.reply.code).toBe(226);
      const created = (await fs.readdir(home('incoming'))).filter((n) => !before.names.includes(n));
      expect(created).toHaveLength(1);
      expect(created[0]).toMatch(new RegExp(`^${name.replace('.', '\\.')}\\.[0-9a-f]{8}$`));
      await fs.rm(home('incoming', created[0]!));
    }
    expect(await snapshot()).toEqual(before);
  });
});
