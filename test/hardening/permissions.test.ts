/**
 * Per-user permissions with per-directory rules, over FTP: an upload-only drop box, a read-only subtree
 * in a writable home, rename needing `rename` at both ends, MLSD/MLST `perm` facts that follow the rules,
 * and the config file path (users[].permissions and users[].rules) through to a running server.
 */
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import type { UserAccount } from '../../src/auth/users.js';
import { PERMISSIONS } from '../../src/auth/permissions.js';
import { RulePermissions } from '../../src/auth/rules.js';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { toServerOptions } from '../../src/config/server-options.js';
import { FtpServer } from '../../src/server.js';
import { silentLogger } from '../../src/logger.js';
import { loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tryDownload, tryUpload } from './transfer-helpers.js';

const NO_CHANGES = ['write', 'append', 'delete', 'rename', 'mkdir', 'rmdir', 'chmod', 'settime'] as const;

let t: TestServer;
let root: string;

const users = (home: string): UserAccount[] => [
  {
    // An upload-only drop box in an otherwise read-only home; reading is opened again below /incoming/public.
    name: 'dropper',
    password: { plain: 'pw' },
    home,
    permissions: ['list', 'read'],
    rules: [
      { path: '/incoming', allow: ['write', 'mkdir'], deny: ['read', 'list'] },
      { path: '/incoming/public', allow: ['read', 'list'] },
    ],
  },
  {
    // A writable home with a read-only subtree, a no-rename area and a protected project.
    name: 'writer',
    password: { plain: 'pw' },
    home,
    rules: [
      { path: '/archive', deny: [...NO_CHANGES] },
      { path: 'norename/', deny: ['rename'] },
      // denying delete denies rename too unless the rule names it (it takes files away): allowed here
      { path: '/projects/locked', deny: ['delete'], allow: ['rename'] },
    ],
  },
  {
    // A pickup area (read, list, move out; no writing) and a sealed one (no reading).
    name: 'mover',
    password: { plain: 'pw' },
    home,
    rules: [
      { path: '/pickup', deny: ['write'], allow: ['rename'] },
      { path: '/sealed', deny: ['read'] },
    ],
  },
];

beforeAll(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'ftpsd-perms-'));
  for (const d of ['incoming/public', 'archive/sub', 'norename', 'projects/locked', 'pickup', 'sealed/dir']) await fs.mkdir(join(root, d), { recursive: true });
  await fs.writeFile(join(root, 'readme.txt'), 'read me');
  await fs.writeFile(join(root, 'incoming', 'someone-elses.txt'), 'private upload');
  await fs.writeFile(join(root, 'incoming', 'public', 'shared.txt'), 'shared');
  await fs.writeFile(join(root, 'archive', 'old.txt'), 'old');
  await fs.writeFile(join(root, 'norename', 'stay.txt'), 'stay');
  t = await startServer({ users: users(root) });
});
afterAll(async () => {
  await t.close();
  await fs.rm(root, { recursive: true, force: true });
});

async function as(user: string): Promise<RawClient> {
  return loggedIn(t, { user, pass: 'pw', binary: true });
}

/** The `perm` fact of `name` in an MLSD of `dir`. */
async function permOf(c: RawClient, dir: string, name: string): Promise<string | undefined> {
  const { reply, data } = await tryDownload(c, `MLSD ${dir}`);
  expect(reply.code).toBe(226);
  const line = data
    .toString()
    .split('\r\n')
    .find((l) => l.endsWith(` ${name}`));
  return line === undefined ? undefined : /perm=([a-z]*);/.exec(line)?.[1];
}

describe('an upload-only drop box', () => {
  it('uploads work; reading, listing, deleting and overwriting do not', async () => {
    const c = await as('dropper');
    expect((await tryUpload(c, 'STOR /incoming/mine.txt', 'dropped')).code).toBe(226);
    expect(await fs.readFile(join(root, 'incoming', 'mine.txt'), 'utf8')).toBe('dropped');
    await c.expectCmd('CWD /incoming', 250); // entering is fine, uploads use relative names
    expect((await tryUpload(c, 'STOR second.txt', 'two')).code).toBe(226);
    expect(await c.cmd('MKD newdir')).toMatchObject({ code: 257 });
    for (const cmd of ['RETR mine.txt', 'RETR someone-elses.txt', 'LIST', 'NLST', 'MLSD', 'LIST /incoming']) {
      const { reply, data } = await tryDownload(c, cmd);
      expect(reply.code, cmd).toBe(550);
      expect(data.length, cmd).toBe(0);
    }
    for (const cmd of ['SIZE mine.txt', 'MDTM mine.txt', 'MLST mine.txt', 'STAT .', 'DELE someone-elses.txt', 'RNFR someone-elses.txt', 'RMD newdir', 'SITE CHMOD 600 mine.txt']) {
      expect((await c.cmd(cmd)).code, cmd).toBe(550);
    }
    expect((await tryUpload(c, 'APPE someone-elses.txt', 'tampered')).code).toBe(550);
    // overwriting needs delete too: not even one's own upload can be replaced, nor rewritten from an offset
    expect((await tryUpload(c, 'STOR someone-elses.txt', 'tampered')).code).toBe(550);
    expect((await tryUpload(c, 'STOR mine.txt', 'tampered')).code).toBe(550);
    await c.expectCmd('REST 1', 350);
    expect((await tryUpload(c, 'STOR mine.txt', 'tampered')).code).toBe(550);
    expect(await fs.readFile(join(root, 'incoming', 'someone-elses.txt'), 'utf8')).toBe('private upload');
    // nor appended to at its end with REST + STOR: that is APPE, and this drop box does not grant `append`
    await c.expectCmd('REST 7', 350);
    expect((await tryUpload(c, 'STOR mine.txt', ' and resumed')).code).toBe(550);
    await c.expectCmd('REST 14', 350);
    expect((await tryUpload(c, 'STOR someone-elses.txt', ' and more')).code).toBe(550);
    expect(await fs.readFile(join(root, 'incoming', 'mine.txt'), 'utf8')).toBe('dropped');
    expect(await fs.readFile(join(root, 'incoming', 'someone-elses.txt'), 'utf8')).toBe('private upload');
    c.close();
  });

  it('outside the drop box the user is read-only; below /incoming/public reading is open again', async () => {
    const c = await as('dropper');
    expect((await tryUpload(c, 'STOR /elsewhere.txt', 'x')).code).toBe(550);
    expect((await c.cmd('MKD /newdir')).code).toBe(550);
    expect((await tryDownload(c, 'RETR /readme.txt')).data.toString()).toBe('read me');
    expect((await tryDownload(c, 'RETR /incoming/public/shared.txt')).data.toString()).toBe('shared');
    expect((await tryDownload(c, 'NLST /incoming/public')).reply.code).toBe(226);
    // the nested rule names only read and list: /incoming's write still holds, delete is still not granted
    expect((await tryUpload(c, 'STOR /incoming/public/up.txt', 'y')).code).toBe(226);
    expect((await c.cmd('DELE /incoming/public/shared.txt')).code).toBe(550);
    c.close();
  });

  it('MLSD perm facts follow the rules', async () => {
    const c = await as('dropper');
    expect(await permOf(c, '/', 'incoming')).toBe('cem'); // create files, enter, make dirs; no list
    expect(await permOf(c, '/', 'readme.txt')).toBe('r');
    expect((await c.cmd('MLSD /incoming')).code).toBe(550); // refused before any data connection
    expect((await c.cmd('MLST /incoming')).code).toBe(550); // no list in the drop box itself
    expect((await c.cmd('MLST /incoming/public')).text).toMatch(/perm=celm;/);
    expect(await permOf(c, '/incoming/public', 'shared.txt')).toBe('r'); // no `w`: replacing it needs delete
    c.close();
  });
});

describe('a read-only subtree in a writable home', () => {
  it('nothing below /archive (nor /archive itself) can be changed; reading works; the rest is writable', async () => {
    const c = await as('writer');
    expect((await tryDownload(c, 'RETR /archive/old.txt')).data.toString()).toBe('old');
    for (const cmd of ['STOR /archive/new.txt', 'STOR /archive/old.txt', 'APPE /archive/old.txt', 'STOR /archive/sub/deeper.txt']) {
      expect((await tryUpload(c, cmd, 'changed')).code, cmd).toBe(550);
    }
    await c.expectCmd('REST 1', 350);
    expect((await tryUpload(c, 'STOR /archive/old.txt', 'X')).code).toBe(550); // and the REST is spent
    for (const cmd of [
      'DELE /archive/old.txt',
      'RNFR /archive/old.txt',
      'MKD /archive/x',
      'RMD /archive/sub',
      'RMD /archive',
      'RNFR /archive',
      'SITE CHMOD 777 /archive/old.txt',
      'MFMT 20000101000000 /archive/old.txt',
    ]) {
      expect((await c.cmd(cmd)).code, cmd).toBe(550);
    }
    expect(await fs.readFile(join(root, 'archive', 'old.txt'), 'utf8')).toBe('old');
    expect((await fs.readdir(join(root, 'archive'))).sort()).toEqual(['old.txt', 'sub']);
    expect((await tryUpload(c, 'STOR /free.txt', 'free')).code).toBe(226);
    expect((await c.cmd('MKD /freedir')).code).toBe(257);
    expect(await permOf(c, '/', 'archive')).toBe('el');
    expect(await permOf(c, '/archive', 'old.txt')).toBe('r');
    expect(await permOf(c, '/', 'free.txt')).toBe('adfrw');
    const mlst = await c.cmd('MLST /archive/old.txt');
    expect(mlst.text).toMatch(/perm=r;/);
    c.close();
  });

  it('rename needs the rename permission at the source and at the target', async () => {
    const c = await as('writer');
    await fs.writeFile(join(root, 'movable.txt'), 'm');
    await c.expectCmd('RNFR /movable.txt', 350);
    await c.expectCmd('RNTO /norename/movable.txt', 550);
    await c.expectCmd('RNFR /movable.txt', 350);
    await c.expectCmd('RNTO /archive/movable.txt', 550);
    await c.expectCmd('RNFR /norename/stay.txt', 550);
    await c.expectCmd('RNFR /movable.txt', 350);
    await c.expectCmd('RNTO /moved.txt', 250);
    expect(await fs.readFile(join(root, 'moved.txt'), 'utf8')).toBe('m');
    expect(await fs.readFile(join(root, 'norename', 'stay.txt'), 'utf8')).toBe('stay');
    c.close();
  });

  it('rename onto an existing entry needs delete there (it replaces it)', async () => {
    const c = await as('writer');
    await fs.writeFile(join(root, 'projects', 'locked', 'keep.txt'), 'keep');
    await fs.writeFile(join(root, 'incoming-file.txt'), 'new');
    await c.expectCmd('RNFR /incoming-file.txt', 350);
    await c.expectCmd('RNTO /projects/locked/keep.txt', 550);
    expect(await fs.readFile(join(root, 'projects', 'locked', 'keep.txt'), 'utf8')).toBe('keep');
    expect((await tryUpload(c, 'STOR /projects/locked/keep.txt', 'overwritten')).code).toBe(550);
    await c.expectCmd('RNFR /incoming-file.txt', 350);
    await c.expectCmd('RNTO /projects/locked/new.txt', 250);
    c.close();
  });

  it('a directory holding a rule path cannot be renamed (the protection would not move with it)', async () => {
    const c = await as('writer');
    await c.expectCmd('RNFR /projects', 550);
    // nor the rule's own directory where `delete` is denied: moved away, its files could be deleted
    await c.expectCmd('RNFR /projects/locked', 550);
    await c.expectCmd('RNFR /projects/locked/keep.txt', 550); // nor a file in it (renaming takes it away)
    c.close();
  });
});

describe('renaming may not widen what the user may do with the entry', () => {
  it('out of a no-read area: refused (the file would become readable); out of a readable one: allowed', async () => {
    await fs.writeFile(join(root, 'sealed', 's.txt'), 'sealed');
    await fs.writeFile(join(root, 'pickup', 'p.txt'), 'pick me');
    const c = await as('mover');
    await c.expectCmd('RNFR /sealed/s.txt', 350); // delete is allowed there...
    await c.expectCmd('RNTO /s.txt', 550, /^550 Permission denied: the new name would allow more than the old one\.$/);
    await c.expectCmd('RNFR /sealed/dir', 350);
    await c.expectCmd('RNTO /dir', 550);
    await c.expectCmd('RNFR /sealed/s.txt', 350);
    await c.expectCmd('RNTO /sealed/dir/s.txt', 250); // ...and moving within it widens nothing
    expect(await fs.readFile(join(root, 'sealed', 'dir', 's.txt'), 'utf8')).toBe('sealed');
    // the pickup area is readable and listable: the user could copy the file out anyway, so it may move
    await c.expectCmd('RNFR /pickup/p.txt', 350);
    await c.expectCmd('RNTO /p.txt', 250);
    expect(await fs.readFile(join(root, 'p.txt'), 'utf8')).toBe('pick me');
    // but not back in: the pickup area denies write, hence the changes it does not name (append, chmod...)
    await c.expectCmd('SITE CHMOD 600 /pickup', 550);
    c.close();
  });
});

describe('the rule engine', () => {
  it('a rule denying write or delete also denies the changes it does not name; it never grants', () => {
    const p = new RulePermissions(PERMISSIONS, [
      { path: '/in', allow: ['write', 'mkdir'], deny: ['read', 'list', 'delete'] },
      { path: '/in/open', allow: ['read', 'list'] },
      { path: '/ro', deny: ['write'], allow: ['rename'] },
      { path: '/quiet', deny: ['list'] },
    ]);
    expect(p.effective(['in', 'f'])).toEqual(['write', 'mkdir']);
    expect(p.effective(['in', 'open', 'f'])).toEqual(['list', 'read', 'write', 'mkdir']);
    expect(p.effective(['ro'])).toEqual(['list', 'read', 'delete', 'rename', 'mkdir']);
    expect(p.effective(['quiet'])).toEqual(PERMISSIONS.filter((op) => op !== 'list'));
    const readOnlyBase = new RulePermissions(['list', 'read'], [{ path: '/x', deny: ['delete'], allow: ['write'] }]);
    expect(readOnlyBase.effective(['x'])).toEqual(['list', 'read', 'write']);
  });

  it('per permission, the longest matching rule that names it decides; else the base set', () => {
    const p = new RulePermissions(['list', 'read', 'write'], [
      { path: '/a', deny: ['write'], allow: ['delete'] },
      { path: '/a/b', allow: ['write'] },
      { path: '/ab', deny: ['read'] },
    ]);
    expect(p.effective([])).toEqual(['list', 'read', 'write']);
    expect(p.effective(['a'])).toEqual(['list', 'read', 'delete']);
    expect(p.effective(['a', 'x', 'y'])).toEqual(['list', 'read', 'delete']);
    expect(p.effective(['a', 'b', 'c'])).toEqual(['list', 'read', 'write', 'delete']);
    expect(p.effective(['ab'])).toEqual(['list', 'write']); // a prefix of segments, not of characters
    expect(p.allows('rename', ['a'])).toBe(false);
  });

  it('refuses contradictions: a permission both allowed and denied, two rules for one path', () => {
    expect(() => new RulePermissions([], [{ path: '/a', allow: ['read'], deny: ['read'] }])).toThrow(/both allows and denies read/);
    expect(() => new RulePermissions([], [{ path: '/a' }, { path: 'a/' }])).toThrow(/same path/);
  });
});

describe('config: users[].permissions and users[].rules', () => {
  const HASHLESS = '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4';
  const issues = (config: unknown) => {
    const r = configSchema.safeParse(config);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('the schema checks permission names, rules and their combination with readOnly', () => {
    const user = (extra: object) => ({ users: [{ name: 'u', password: HASHLESS, ...extra }] });
    expect(issues(user({ permissions: ['list', 'read'], rules: [{ path: '/in', allow: ['write'], deny: ['read'] }] }))).toEqual([]);
    expect(issues(user({ permissions: ['list', 'fly'] }))[0]).toMatch(/^users\.0\.permissions\.1: must be one of list, read, write/);
    expect(issues(user({ readOnly: true, permissions: ['list'] }))).toEqual(['users.0.permissions: give either readOnly or permissions, not both']);
    expect(issues(user({ rules: [{ path: '/in', allow: ['read'], deny: ['read'] }] }))).toEqual(['users.0.rules.0.deny: read both allowed and denied']);
    expect(issues(user({ rules: [{ path: '/in' }, { path: 'in/' }] }))).toEqual(['users.0.rules.1.path: a second rule for /in']);
    expect(issues(user({ rules: [{ path: '/in', allow: ['read'], colour: 1 }] })).length).toBe(1);
    expect(issues(user({ rules: [{ allow: ['read'] }] }))).toEqual(['users.0.rules.0.path: is required']);
  });

  it('a config file user gets its rules on a running server', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'ftpsd-perms-config-'));
    try {
      const hash = await hashPassword('filepw');
      await fs.writeFile(
        join(dir, 'ftpsd.yaml'),
        [
          'root: ./data',
          'stateDir: ./state',
          'users:',
          '  - name: carol',
          `    password: "${hash}"`,
          '    permissions: [list, read]',
          '    rules:',
          '      - { path: /drop, allow: [write, mkdir], deny: [read, list] }',
          '',
        ].join('\n'),
      );
      const config = await loadConfig({ config: join(dir, 'ftpsd.yaml') }, { env: {}, cwd: dir });
      expect(config.users[0]).toMatchObject({ name: 'carol', permissions: ['list', 'read'], rules: [{ path: '/drop', allow: ['write', 'mkdir'], deny: ['read', 'list'] }] });
      const { options } = await toServerOptions(config, silentLogger);
      await fs.mkdir(join(dir, 'data', 'drop'));
      const server = new FtpServer({ ...options, listen: [{ host: '127.0.0.1', port: 0 }], implicitListen: [], tlsRequired: 'off', limits: { loginFailureDelayMs: 10 } });
      const { explicit } = await server.listen();
      const c = await RawClient.connect(explicit[0]!.port);
      try {
        await c.login('carol', 'filepw');
        expect((await tryUpload(c, 'STOR /drop/f.txt', 'in')).code).toBe(226);
        expect((await tryDownload(c, 'RETR /drop/f.txt')).reply.code).toBe(550);
        expect((await tryUpload(c, 'STOR /top.txt', 'no')).code).toBe(550);
      } finally {
        c.close();
        await server.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
