/**
 * `ftpsd user add|set|remove|list` and `ftpsd ban list|remove` against a real PostgreSQL (test/services/
 * postgres.ts): the rows they write, the generated password printed once, and the one-line errors with
 * exit code 1 (duplicate, missing user, bad home, unreachable database) or 2 (no URL, bad flag).
 */
import { verify } from '@node-rs/argon2';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBin, usingPostgres } from '../services/postgres.js';
import { freePort } from '../ops/service-helpers.js';
import { assertBuilt, removeTempDirs, run, tempDir } from './cli.js';

const BIN = postgresBin();
if (!BIN) console.warn('user database CLI tests skipped: postgresql is not installed (apt-get install -y postgresql)');

describe.skipIf(!BIN)('ftpsd user / ftpsd ban', () => {
  const pgs = usingPostgres();
  const user = (args: string[], input?: string, env: Record<string, string> = { FTPSD_USER_DB: pgs.db.url }) =>
    run(['user', ...args], { env, ...(input !== undefined ? { input } : {}) });
  const row = async (name: string) => (await pgs.sql.query('select * from ftpsd_users where name = $1', [name])).rows[0] as Record<string, unknown> | undefined;

  beforeAll(() => assertBuilt());
  afterAll(() => removeTempDirs());

  it('add with a generated password: printed once, alone on stdout; the hash verifies', async () => {
    const r = await user(['add', 'alice', '--home', '/srv/ftp/alice', '--quota-bytes', '1000000']);
    expect(r.code).toBe(0);
    const password = r.stdout.trim();
    expect(r.stdout).toBe(`${password}\n`);
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(r.stderr).toContain('not shown again');
    const alice = (await row('alice'))!;
    expect(alice).toMatchObject({ home: '/srv/ftp/alice', read_only: false, enabled: true, quota_bytes: '1000000' });
    expect(await verify(alice.password_hash as string, password)).toBe(true);
  });

  it('add with --password-stdin and --read-only, through --user-db; the migrations table says the version', async () => {
    const r = await run(['user', 'add', 'bob', '--read-only', '--password-stdin', '--user-db', pgs.db.url], { input: 'bob-Secret-1\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'user "bob" added\n' });
    const bob = (await row('bob'))!;
    expect(bob).toMatchObject({ read_only: true, home: null });
    expect(await verify(bob.password_hash as string, 'bob-Secret-1')).toBe(true);
    const versions = (await pgs.sql.query('select version from ftpsd_schema_migrations order by version')).rows.map((r) => r.version);
    expect(versions).toEqual([1, 2, 3, 4]);
  });

  it('set changes only what is given: --disable, --enable, --no-read-only, a new password', async () => {
    expect((await user(['set', 'bob', '--disable'])).code).toBe(0);
    expect(await row('bob')).toMatchObject({ enabled: false, read_only: true });
    expect((await user(['set', 'bob', '--enable', '--no-read-only', '--quota-bytes', 'off'])).code).toBe(0);
    expect(await row('bob')).toMatchObject({ enabled: true, read_only: false, quota_bytes: null });
    expect((await user(['set', 'bob', '--password-stdin'], 'bob-New-2\n')).stdout).toBe('user "bob" changed\n');
    expect(await verify((await row('bob'))!.password_hash as string, 'bob-New-2')).toBe(true);
  });

  it('list: a table, and --json without hashes', async () => {
    const table = await user(['list']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+ENABLED\s+ACCESS\s+LOGIN\s+QUOTA-BYTES\s+HOME$/);
    expect(table.stdout).toMatch(/^alice\s+yes\s+read-write\s+password\s+1000000\s+\/srv\/ftp\/alice$/m);
    const json = await user(['list', '--json']);
    const list = JSON.parse(json.stdout) as { name: string }[];
    expect(list.map((u) => u.name)).toEqual(['alice', 'bob']);
    expect(json.stdout).not.toContain('argon2');
    expect(json.stdout).not.toMatch(/passwordHash|password_hash/i);
    expect(list.map((u) => (u as { login?: string }).login)).toEqual(['password', 'password']);
  });

  it('errors: one line, exit 1 for a duplicate, a missing user, a bad home, an unreachable database', async () => {
    const dup = await user(['add', 'alice']);
    expect(dup).toMatchObject({ code: 1, stdout: '', stderr: 'error: user "alice" already exists\n' });
    const missing = await user(['set', 'nobody', '--disable']);
    expect(missing).toMatchObject({ code: 1, stderr: 'error: no user "nobody"\n' });
    expect(await user(['remove', 'nobody'])).toMatchObject({ code: 1, stderr: 'error: no user "nobody"\n' });
    const relative = await user(['add', 'carol', '--home', 'carol']);
    expect(relative).toMatchObject({ code: 1, stderr: 'error: bad home "carol": an absolute path (or an s3:// URL) is needed\n' });
    expect(await user(['add', 'carol', '--home', 's3://bucket/ftp/../x'])).toMatchObject({ code: 1, stderr: 'error: bad home "s3://bucket/ftp/../x": s3://BUCKET/PREFIX without . or .. segments is needed\n' });
    expect((await user(['add', '..'])).code).toBe(2);
    const file = join(await tempDir(), 'a-file');
    await writeFile(file, 'x');
    expect((await user(['add', 'carol', '--home', file])).stderr).toBe(`error: bad home ${JSON.stringify(file)}: not a directory\n`);
    const port = await freePort();
    const down = await user(['list'], undefined, { FTPSD_USER_DB: `postgres://ftpsd:topsecret@127.0.0.1:${port}/x` });
    expect(down).toMatchObject({ code: 1, stdout: '' });
    expect(down.stderr).toBe(`error: user database postgres://ftpsd:***@127.0.0.1:${port}/x unreachable: connection refused\n`);
    expect(down.stderr).not.toContain('topsecret');
    expect(await row('carol')).toBeUndefined();
  });

  it('usage errors exit 2: no URL, a URL of another scheme, a bad quota', async () => {
    expect(await run(['user', 'list'])).toMatchObject({ code: 2, stderr: 'error: no user database: give --user-db URL or set FTPSD_USER_DB\n' });
    expect((await user(['list'], undefined, { FTPSD_USER_DB: 'mysql://h/db' })).code).toBe(2);
    expect((await user(['add', 'dave', '--quota-bytes', 'lots'])).stderr).toBe('error: --quota-bytes must be a whole number of at least 0, or off\n');
  });

  it('the password comes from PGPASSWORD or FTPSD_USER_DB_PASSWORD_FILE when the URL has none', async () => {
    const viaEnv = await user(['list', '--json'], undefined, { FTPSD_USER_DB: pgs.db.urlWithoutPassword, PGPASSWORD: pgs.db.password });
    expect(viaEnv.code).toBe(0);
    const file = join(await tempDir(), 'pw');
    await writeFile(file, `${pgs.db.password}\n`, { mode: 0o600 });
    const viaFile = await user(['list', '--json'], undefined, { FTPSD_USER_DB: pgs.db.urlWithoutPassword, FTPSD_USER_DB_PASSWORD_FILE: file });
    expect(viaFile.code).toBe(0);
    const none = await user(['list'], undefined, { FTPSD_USER_DB: pgs.db.urlWithoutPassword, HOME: '/nonexistent' });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('the database asks for a password and none was given');
  });

  it('remove; ban list and ban remove', async () => {
    expect(await user(['remove', 'bob'])).toMatchObject({ code: 0, stdout: 'user "bob" removed\n' });
    expect(await row('bob')).toBeUndefined();
    const env = { FTPSD_USER_DB: pgs.db.url };
    expect((await run(['ban', 'list'], { env })).stdout).toBe('no bans\n');
    await pgs.sql.query("insert into ftpsd_bans (network, until, failures) values ('192.0.2.7', now() + interval '1 hour', 5)");
    const list = await run(['ban', 'list'], { env });
    expect(list.stdout).toMatch(/^192\.0\.2\.7 {2}until \S+ {2}\(5 failures\)$/m);
    expect(await run(['ban', 'remove', '192.0.2.7'], { env })).toMatchObject({ code: 0, stdout: 'ban of 192.0.2.7 lifted\n' });
    expect(await run(['ban', 'remove', '192.0.2.7'], { env })).toMatchObject({ code: 1, stderr: 'error: 192.0.2.7 is not banned\n' });
  });
});
