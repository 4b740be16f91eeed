/**
 * DbAuthenticator against a real PostgreSQL, beside config users: a row read per login (new users and
 * new passwords at once), disabled users and logins from outside `allowed_networks` refused like a wrong
 * password, the row's rules and read-only flag in force, the default home `<root>/<name>`, config users
 * and anonymous untouched, and the database unreachable: 421 with the fixed text for database names only.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FtpError } from '../../src/base/errors.js';
import { hashPassword } from '../../src/auth/password.js';
import type { LoginResult } from '../../src/auth/authenticator.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import { silentLogger } from '../../src/logger.js';
import { DB_UNAVAILABLE, DbAuthenticator } from '../../src/userdb/authenticator.js';
import { UserStore, type DbUser } from '../../src/userdb/store.js';
import { postgresBin, startPostgres, type TestPostgres } from '../services/postgres.js';

const BIN = postgresBin();
if (!BIN) console.warn('user database tests skipped: postgresql is not installed (apt-get install -y postgresql)');

describe.skipIf(!BIN)('DbAuthenticator', () => {
  let db: TestPostgres;
  let store: UserStore;
  let root: string;
  let auth: DbAuthenticator;
  let hash: string;
  // (No certificate here, so never a LoginRefusal.)
  const login = (user: string, password = 'Pass-1', remoteAddress = '127.0.0.1') => auth.login({ user, password, remoteAddress, secure: true }) as Promise<LoginResult | null>;
  const row = (name: string, extra: Partial<DbUser> = {}): DbUser => ({
    name, passwordHash: hash, home: null, readOnly: false, permissions: null, rules: [], quotaBytes: null, quotaFiles: null, enabled: true, allowedNetworks: null, login: 'password', certificates: null, ...extra,
  });

  beforeAll(async () => {
    db = await startPostgres();
    store = await UserStore.open(db.url);
    root = await mkdtemp(join(tmpdir(), 'ftpsd-dbauth-'));
    hash = await hashPassword('Pass-1');
    const config = new UserAuthenticator([{ name: 'cfg', password: { plain: 'cfg-pass' }, home: root }], { home: root });
    auth = new DbAuthenticator(store, config, config.names(), { root, logger: silentLogger });
  }, 60_000);
  afterAll(async () => {
    await store?.close().catch(() => undefined);
    await db?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('a database user logs in with their home at <root>/<name>; a wrong password or an unknown name is null', async () => {
    await store.add(row('ann'));
    const r = await login('ann');
    expect(r?.name).toBe('ann');
    expect((await stat(join(root, 'ann'))).isDirectory()).toBe(true);
    expect(await login('ann', 'wrong')).toBeNull();
    expect(await login('nobody')).toBeNull();
  });

  it('config users and anonymous are the config file\'s', async () => {
    expect((await login('cfg', 'cfg-pass'))?.name).toBe('cfg');
    expect((await login('anonymous', 'x@y'))?.anonymous).toBe(true);
    expect(await auth.clashes()).toEqual([]);
    await store.add(row('cfg'));
    expect(await auth.clashes()).toEqual(['cfg']);
    await store.remove('cfg');
  });

  it('disabled, or outside allowed_networks: refused like a wrong password', async () => {
    await store.add(row('ben', { allowedNetworks: ['10.0.0.0/8'] }));
    expect(await login('ben', 'Pass-1', '127.0.0.1')).toBeNull();
    expect((await login('ben', 'Pass-1', '10.1.2.3'))?.name).toBe('ben');
    expect((await login('ben', 'Pass-1', '::ffff:10.1.2.3'))?.name).toBe('ben');
    await store.set('ben', { enabled: false });
    expect(await login('ben', 'Pass-1', '10.1.2.3')).toBeNull();
  });

  it('the row\'s read-only flag and rules are in force, and a change applies at the next login', async () => {
    await store.add(row('cat', { readOnly: true }));
    let r = await login('cat');
    expect(r!.permissions.allows('write', ['a'])).toBe(false);
    expect(r!.permissions.allows('read', ['a'])).toBe(true);
    await store.set('cat', { readOnly: false, rules: [{ path: '/ro', deny: ['write'] }] });
    auth.forget('cat'); // (the node's listener does this on the notification)
    r = await login('cat');
    expect(r!.permissions.allows('write', ['a'])).toBe(true);
    expect(r!.permissions.allows('write', ['ro', 'x'])).toBe(false);
  });

  it('the database unreachable: 421 with the fixed text for a database name; config users still log in', async () => {
    await db.stop();
    try {
      const err = await login('ann').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FtpError);
      expect((err as FtpError).reply.code).toBe(421);
      expect((err as FtpError).message).toBe(DB_UNAVAILABLE);
      expect((await login('cfg', 'cfg-pass'))?.name).toBe('cfg');
    } finally {
      await db.start();
    }
    expect((await login('ann'))?.name).toBe('ann');
  }, 60_000);
});
