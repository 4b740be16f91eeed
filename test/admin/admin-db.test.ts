/**
 * The admin console with a user database: two `ftpsd serve` nodes (dist/; run `npm run build` first) on
 * one throwaway PostgreSQL, each with its console. An admin added with `ftpsd admin add` logs in over
 * the API; a token and a cookie made on node A work on node B (kept in the database, hashed); users are
 * created, edited, disabled and removed through the API of node A and the change reaches node B (a new
 * user logs in there over FTP with basic-ftp; a disabled user's live session there ends with 421);
 * node A's console lists node B's sessions and ends one (421 to the client). Refusals: no login, bad
 * input (problem documents), a forged cross-site request, a name in both admin.users and the database.
 * Every answer's status is checked against the OpenAPI document.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'node:https';
import { Client } from 'basic-ftp';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { openApiDocument } from '../../src/admin/openapi.js';
import { matchRoute, ROUTES } from '../../src/admin/routes.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/poll.js';
import { postgresBin, startPostgres, type TestPostgres } from '../services/postgres.js';
import { Served, assertBuilt, killAll, removeTempDirs, run, tempDir } from '../cli/cli.js';
import { call as rawCall, type RequestOptions } from './admin-server.js';

const BIN = postgresBin();
if (!BIN) console.warn('admin console with a user database: skipped, postgresql is not installed');

const XHR = { 'x-requested-with': 'test' };
const CONFIG_ADMIN = { name: 'cfgadmin', password: 'cfg-Admin-1' };
const DB_ADMIN = { name: 'boss', password: 'boss-Secret-1' };

const seen: { method: string; route: string; status: number }[] = [];

describe.skipIf(!BIN)('admin console on a user database, two nodes', () => {
  let db: TestPostgres;
  let dir: string;
  let config: string;
  const nodes: { served: Served; base: string }[] = [];
  const env = () => ({ FTPSD_USER_DB: db.url });

  async function call(i: number, method: string, path: string, options?: RequestOptions) {
    const r = await rawCall(nodes[i]!.base, method, path, options);
    const { route } = matchRoute(method, path.split('?')[0]!);
    if (route) seen.push({ method, route: route.path, status: r.status });
    return r;
  }

  async function loginTo(i: number, who: { name: string; password: string }): Promise<string> {
    const r = await call(i, 'POST', '/api/login', { body: who });
    expect(r.status, r.body).toBe(200);
    return String(r.headers['set-cookie']).split(';')[0]!;
  }

  const startNode = async (i: number) => {
    const served = await Served.start(
      ['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'shared'), '--state-dir', join(dir, `state${i}`),
        '--tls-required', 'off', '--user', 'cfg:cfg-Pass-1', '--log-format', 'json', '--config', config],
      { env: env() },
    );
    const base = /^admin:\s+(https?:\/\/127\.0\.0\.1:\d+)\/$/m.exec(served.stdout)?.[1];
    if (!base) throw new Error(`no admin line in the banner:\n${served.stdout}`);
    return { served, base };
  };

  beforeAll(async () => {
    assertBuilt();
    db = await startPostgres();
    dir = await tempDir();
    await mkdir(join(dir, 'shared'), { recursive: true });
    config = join(dir, 'ftpsd.yaml');
    await writeFile(config, ['adminListen: 127.0.0.1:0', 'admin:', '  users:', `    - {name: ${CONFIG_ADMIN.name}, password: "${await hashPassword(CONFIG_ADMIN.password)}"}`, ''].join('\n'));
    await chmod(config, 0o600);
    // The admin account is made before the nodes start (the command migrates the schema itself).
    const added = await run(['admin', 'add', DB_ADMIN.name, '--password-stdin'], { env: env(), input: `${DB_ADMIN.password}\n` });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`admin "${DB_ADMIN.name}" added`);
    const [a, b] = await Promise.all([startNode(1), startNode(2)]);
    nodes.push(a!, b!);
  }, 90_000);

  afterAll(async () => {
    killAll();
    await db?.close();
    await removeTempDirs();
  });

  it('ftpsd admin add/list/remove: errors are one line with exit 1; the stored hash is argon2id', async () => {
    const dup = await run(['admin', 'add', DB_ADMIN.name, '--password-stdin'], { env: env(), input: 'x\n' });
    expect(dup.code).toBe(1);
    expect(dup.stderr.trim().split('\n')).toHaveLength(1);
    expect(dup.stderr).toContain(`admin "${DB_ADMIN.name}" already exists`);
    const missing = await run(['admin', 'remove', 'nobody'], { env: env() });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/no admin "nobody"$/);
    const list = await run(['admin', 'list', '--json'], { env: env() });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).map((a: { name: string }) => a.name)).toEqual([DB_ADMIN.name]);
    expect(list.stdout).not.toContain('argon2');
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const { rows } = await sql.query('select password_hash from ftpsd_admins where name = $1', [DB_ADMIN.name]);
      expect(rows[0].password_hash).toMatch(/^\$argon2id\$/);
    } finally {
      await sql.end();
    }
    const noDb = await run(['admin', 'list']);
    expect(noDb.code).toBe(2);
    const down = await run(['admin', 'list', '--user-db', 'postgres://u:secret@127.0.0.1:1/x']);
    expect(down.code).toBe(1);
    expect(down.stderr).not.toContain('secret');
  });

  it('the database admin logs in on both nodes; a wrong password is refused; a config admin logs in too', async () => {
    for (const i of [0, 1]) await loginTo(i, DB_ADMIN);
    expect((await call(0, 'POST', '/api/login', { body: { ...DB_ADMIN, password: 'wrong' } })).status).toBe(401);
    await loginTo(1, CONFIG_ADMIN);
  });

  it('a cookie and a token made on node A work on node B (kept hashed in the database); revoked on B, refused on A', async () => {
    const cookie = await loginTo(0, DB_ADMIN);
    expect((await call(1, 'GET', '/api/status', { cookie })).status).toBe(200);
    const made = await call(0, 'POST', '/api/tokens', { cookie, headers: XHR, body: { label: 'ci' } });
    expect(made.status).toBe(201);
    const { token, id } = made.json();
    expect((await call(1, 'GET', '/api/sessions', { token })).status).toBe(200);
    const listed = await call(1, 'GET', '/api/tokens', { token });
    expect(listed.json().map((t: { id: string }) => t.id)).toContain(id);
    // Only hashes are stored.
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    try {
      const dump = JSON.stringify((await sql.query('select * from ftpsd_admin_tokens')).rows) + JSON.stringify((await sql.query('select * from ftpsd_admin_sessions')).rows);
      expect(dump).not.toContain(token.slice('ftpsd_'.length + 13));
      expect(dump).not.toContain(cookie.split('=')[1]);
    } finally {
      await sql.end();
    }
    expect((await call(1, 'DELETE', `/api/tokens/${id}`, { token })).status).toBe(204);
    expect((await call(0, 'GET', '/api/sessions', { token })).status).toBe(401);
    // Logged out on B: the cookie stops working on A.
    expect((await call(1, 'POST', '/api/logout', { cookie, headers: XHR })).status).toBe(204);
    expect((await call(0, 'GET', '/api/status', { cookie })).status).toBe(401);
  });

  it('refusals: no login, a forged cross-site request, bad input as problem documents', async () => {
    expect((await call(0, 'POST', '/api/users', { body: { name: 'x', password: 'y' }, headers: XHR })).status).toBe(401);
    expect((await call(0, 'PATCH', '/api/users/x', { body: { enabled: false }, headers: XHR })).status).toBe(401);
    const cookie = await loginTo(0, DB_ADMIN);
    const forged = await call(0, 'POST', '/api/users', { cookie, body: { name: 'evil', password: 'evil-Pass-1' } });
    expect(forged.status).toBe(403);
    expect((await call(0, 'DELETE', '/api/users/evil', { cookie })).status).toBe(403);
    expect((await call(0, 'PATCH', '/api/users/evil', { cookie, body: { enabled: true } })).status).toBe(403);
    for (const body of [
      { name: 'bad name', password: 'p' },
      { name: 'ok', password: 'p', home: 'relative/dir' },
      { name: 'ok', password: 'p', quotaBytes: -1 },
      { name: 'ok', password: 'p', allowedNetworks: ['not-a-network'] },
      { name: 'ok', password: 'p', readOnly: 'yes' },
      { name: 'ok', password: 'p', color: 'blue' },
      { name: 'ok', password: '' },
    ]) {
      const r = await call(0, 'POST', '/api/users', { cookie, headers: XHR, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(r.json()).toMatchObject({ status: 400, title: 'Bad Request' });
    }
    expect((await call(0, 'PATCH', '/api/users/nobody', { cookie, headers: XHR, body: { enabled: false } })).status).toBe(404);
    expect((await call(0, 'PATCH', '/api/users/nobody', { cookie, headers: XHR, body: {} })).status).toBe(400);
    expect((await call(0, 'DELETE', '/api/users/nobody', { cookie, headers: XHR })).status).toBe(404);
    expect((await call(0, 'GET', '/api/sessions/nope', { cookie })).status).toBe(405);
    expect((await call(0, 'DELETE', '/api/sessions/nope', { cookie, headers: XHR })).status).toBe(404);
  });

  it('user CRUD through node A: the created user logs in over FTP on node B; edited; disabled ends its session on B with 421; removed', async () => {
    const cookie = await loginTo(0, DB_ADMIN);
    const status = (await call(0, 'GET', '/api/status', { cookie })).json();
    expect(status.usersEditable).toBe(true);
    const created = await call(0, 'POST', '/api/users', { cookie, headers: XHR, body: { name: 'dana', password: 'dana-Pass-1', quotaBytes: 1_000_000 } });
    expect(created.status, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'dana', source: 'database', enabled: true, quotaBytes: 1_000_000, readOnly: false });
    expect(created.json().password).toBeUndefined();
    expect((await call(0, 'POST', '/api/users', { cookie, headers: XHR, body: { name: 'dana', password: 'x' } })).status).toBe(409);
    // A generated password is shown once.
    const gen = await call(0, 'POST', '/api/users', { cookie, headers: XHR, body: { name: 'eve' } });
    expect(gen.status).toBe(201);
    expect(gen.json().password).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const ftp = new Client(10_000);
    try {
      await ftp.access({ host: '127.0.0.1', port: nodes[1]!.served.port, user: 'dana', password: 'dana-Pass-1' });
      await ftp.ensureDir('/in');
      expect(await ftp.pwd()).toBe('/in');
    } finally {
      ftp.close();
    }
    const eve = new Client(10_000);
    try {
      await eve.access({ host: '127.0.0.1', port: nodes[1]!.served.port, user: 'eve', password: gen.json().password });
    } finally {
      eve.close();
    }

    const users = (await call(1, 'GET', '/api/users', { cookie })).json() as { name: string; source: string }[];
    expect(users.filter((u) => u.source === 'database').map((u) => u.name)).toEqual(['dana', 'eve']);

    // Edited: a new password and read-only; the next login on B uses it.
    const edited = await call(0, 'PATCH', '/api/users/dana', { cookie, headers: XHR, body: { password: 'dana-Pass-2', readOnly: true, allowedNetworks: ['127.0.0.0/8'], quotaBytes: null } });
    expect(edited.status, edited.body).toBe(200);
    expect(edited.json()).toMatchObject({ readOnly: true, allowedNetworks: ['127.0.0.0/8'], quotaBytes: null });
    const live = await RawClient.connect(nodes[1]!.served.port, '127.0.0.1');
    await live.expectCmd('USER dana', 331);
    await live.expectCmd('PASS dana-Pass-2', 230);
    expect((await live.cmd('MKD nope')).code).toBe(550);

    // Disabled on A: the live session on B ends with 421.
    const disabled = await call(0, 'PATCH', '/api/users/dana', { cookie, headers: XHR, body: { enabled: false } });
    const answered = Date.now();
    expect(disabled.status).toBe(200);
    expect(disabled.json().enabled).toBe(false);
    const r = await live.reply(5_000);
    expect(r.code).toBe(421);
    expect(r.text).toContain('Account disabled or removed.');
    console.log(`disabled through node A: the session on node B read 421 ${Date.now() - answered} ms after the reply`);
    expect(await live.waitClosed()).toBe(true);
    const refused = await RawClient.connect(nodes[1]!.served.port, '127.0.0.1');
    await refused.expectCmd('USER dana', 331);
    expect((await refused.cmd('PASS dana-Pass-2')).code).toBe(530);
    refused.close();

    expect((await call(0, 'DELETE', '/api/users/dana', { cookie, headers: XHR })).status).toBe(204);
    expect((await call(0, 'DELETE', '/api/users/eve', { cookie, headers: XHR })).status).toBe(204);
    const after = (await call(0, 'GET', '/api/users', { cookie })).json() as { name: string }[];
    expect(after.map((u) => u.name)).not.toContain('dana');
    // The config file's users are listed, and changed only there.
    expect(after.find((u) => u.name === 'cfg')).toMatchObject({ source: 'config' });
    expect((await call(0, 'POST', '/api/users', { cookie, headers: XHR, body: { name: 'cfg', password: 'x-Pass-1' } })).status).toBe(409);
    expect((await call(0, 'PATCH', '/api/users/cfg', { cookie, headers: XHR, body: { enabled: false } })).status).toBe(409);
    expect((await call(0, 'DELETE', '/api/users/cfg', { cookie, headers: XHR })).status).toBe(409);
  });

  it('node A lists node B\'s sessions and ends one: the client gets 421', async () => {
    const cookie = await loginTo(0, DB_ADMIN);
    expect((await call(0, 'POST', '/api/users', { cookie, headers: XHR, body: { name: 'fred', password: 'fred-Pass-1' } })).status).toBe(201);
    const onB = await RawClient.connect(nodes[1]!.served.port, '127.0.0.1');
    await onB.expectCmd('USER fred', 331);
    await onB.expectCmd('PASS fred-Pass-1', 230);
    const onA = await RawClient.connect(nodes[0]!.served.port, '127.0.0.1');
    await onA.expectCmd('USER fred', 331);
    await onA.expectCmd('PASS fred-Pass-1', 230);
    let listed: { id: string; user: string; node?: string }[] = [];
    await until(async () => {
      listed = (await call(0, 'GET', '/api/sessions', { cookie })).json();
      return listed.filter((s) => s.user === 'fred').length === 2;
    }, 'both of fred\'s sessions listed on node A', 10_000, 200);
    const remote = listed.find((s) => s.user === 'fred' && s.node !== undefined)!;
    expect(remote).toBeDefined();
    expect(listed.filter((s) => s.user === 'fred' && s.node === undefined)).toHaveLength(1);
    // Node B lists its own without a node, and A's with one.
    const fromB = (await call(1, 'GET', '/api/sessions', { cookie })).json() as { id: string; node?: string }[];
    expect(fromB.find((s) => s.id === remote.id)?.node).toBeUndefined();

    // The live events of node A carry it too.
    expect(await eventsUntil(nodes[0]!.base, cookie, (text) => text.includes(`"id":"${remote.id}"`))).toBe(200);

    const started = Date.now();
    const ended = await call(0, 'DELETE', `/api/sessions/${encodeURIComponent(remote.id)}`, { cookie, headers: XHR });
    expect(ended.status, ended.body).toBe(204);
    console.log(`DELETE of another node's session answered (the session gone from the list) in ${Date.now() - started} ms`);
    const r = await onB.reply(5_000);
    expect(r.code).toBe(421);
    expect(r.text).toContain('Disconnected by an administrator.');
    expect(await onB.waitClosed()).toBe(true);
    // The session on A goes on.
    expect((await onA.cmd('NOOP')).code).toBe(200);
    onA.close();
    const now = (await call(0, 'GET', '/api/sessions', { cookie })).json() as { id: string }[];
    expect(now.map((s) => s.id)).not.toContain(remote.id);
    // The admin's action is logged with who, what and where.
    await until(() => nodes[0]!.served.stdout.includes('"action":"session disconnected"'), 'the audit line', 5_000);
    const line = nodes[0]!.served.stdout.split('\n').find((l) => l.includes('"action":"session disconnected"'))!;
    expect(JSON.parse(line)).toMatchObject({ admin: DB_ADMIN.name, from: '127.0.0.1', session: remote.id, user: 'fred' });
    const created = nodes[0]!.served.stdout.split('\n').find((l) => l.includes('"action":"user created"'))!;
    expect(JSON.parse(created)).toMatchObject({ admin: DB_ADMIN.name, from: '127.0.0.1', user: 'dana' });
  });

  it('a killed node\'s sessions leave the list of the others within seconds (its rows expire)', async () => {
    const cookie = await loginTo(0, DB_ADMIN);
    const third = await startNode(4);
    const client = await RawClient.connect(third.served.port, '127.0.0.1');
    await client.expectCmd('USER cfg', 331);
    await client.expectCmd('PASS cfg-Pass-1', 230);
    const thirdsSessions = async () => ((await call(0, 'GET', '/api/sessions', { cookie })).json() as { user: string; node?: string }[]).filter((s) => s.user === 'cfg' && s.node !== undefined);
    await until(async () => (await thirdsSessions()).length === 1, 'the third node\'s session listed on node A', 10_000, 200);
    await third.served.stop('SIGKILL');
    client.close();
    const killed = Date.now();
    await until(async () => (await thirdsSessions()).length === 0, 'the killed node\'s session gone from the list', 20_000, 250);
    console.log(`a killed node's session left the list ${Date.now() - killed} ms after the kill`);
  }, 40_000);

  it('a ban added through node A refuses the address on node B; lifted through node B, it logs in on both', async () => {
    const cookie = await loginTo(0, DB_ADMIN);
    const from = '127.0.0.31';
    const refused = async (i: number) => {
      const c = await RawClient.connect(nodes[i]!.served.port, '127.0.0.1', { localAddress: from, greeting: false });
      const r = await c.reply(5_000).catch(() => undefined);
      c.close();
      return r?.code === 421;
    };
    expect(await refused(1)).toBe(false);
    expect((await call(0, 'POST', '/api/bans', { cookie, headers: XHR, body: { address: from } })).status).toBe(201);
    await until(async () => await refused(1), 'the ban on node B', 3_000, 100);
    expect((await call(1, 'GET', '/api/bans', { cookie })).json().map((b: { address: string }) => b.address)).toContain(from);
    expect((await call(1, 'DELETE', `/api/bans/${from}`, { cookie, headers: XHR })).status).toBe(204);
    await until(async () => !(await refused(0)) && !(await refused(1)), 'the ban lifted on both nodes', 3_000, 100);
    expect((await call(0, 'GET', '/api/bans', { cookie })).json()).toEqual([]);
  });

  it('a removed database admin: its cookie stops working on every node', async () => {
    const added = await run(['admin', 'add', 'temp'], { env: env() });
    expect(added.code).toBe(0);
    const password = added.stdout.trim();
    const cookie = await loginTo(1, { name: 'temp', password });
    expect((await call(0, 'GET', '/api/status', { cookie })).status).toBe(200);
    expect((await run(['admin', 'remove', 'temp'], { env: env() })).code).toBe(0);
    expect((await call(0, 'GET', '/api/status', { cookie })).status).toBe(401);
    expect((await call(1, 'GET', '/api/status', { cookie })).status).toBe(401);
  });

  it('a name in both admin.users and the database stops a node\'s start with one line', async () => {
    expect((await run(['admin', 'add', CONFIG_ADMIN.name], { env: env() })).code).toBe(0);
    try {
      await expect(startNode(3)).rejects.toThrow(`admin ${CONFIG_ADMIN.name} in both the config file (admin.users) and the user database: remove one`);
      // A running node refuses that name's login (neither hash is trusted).
      expect((await call(0, 'POST', '/api/login', { body: CONFIG_ADMIN })).status).toBe(401);
    } finally {
      await run(['admin', 'remove', CONFIG_ADMIN.name], { env: env() });
    }
  });

  it('the database down: requests that need it get 503 (a problem document), nothing crashes; back up, they work again', async () => {
    const cookie = await loginTo(0, DB_ADMIN);
    await db.stop();
    try {
      const r = await call(0, 'GET', '/api/status', { cookie });
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ status: 503, detail: 'user database unavailable; try again later' });
      expect((await call(1, 'POST', '/api/login', { body: DB_ADMIN })).status).toBe(503);
      expect((await call(0, 'GET', '/healthz')).status).toBe(200);
    } finally {
      await db.start();
    }
    await until(async () => (await call(0, 'GET', '/api/status', { cookie })).status === 200, 'the console working again', 20_000, 250);
    expect((await call(1, 'GET', '/api/users', { cookie })).status).toBe(200);
    for (const n of nodes) expect(n.served.child.exitCode).toBeNull();
  });

  it('a cluster node (2 workers): its primary\'s console uses the database: a database admin, its users, each session listed once, another node\'s ended', async () => {
    const served = await Served.start(
      ['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'shared'), '--state-dir', join(dir, 'state-cluster'),
        '--tls-required', 'off', '--user', 'cfg:cfg-Pass-1', '--log-format', 'json', '--config', config],
      { env: { ...env(), FTPSD_WORKERS: '2' } },
    );
    const base = /^admin:\s+(https?:\/\/127\.0\.0\.1:\d+)\/$/m.exec(served.stdout)?.[1];
    expect(base, served.stdout).toBeDefined();
    const login = await rawCall(base!, 'POST', '/api/login', { body: DB_ADMIN });
    expect(login.status, login.body).toBe(200);
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const status = (await rawCall(base!, 'GET', '/api/status', { cookie })).json() as { usersEditable: boolean; workers: number };
    expect(status).toMatchObject({ usersEditable: true, workers: 2 });
    const made = await rawCall(base!, 'POST', '/api/users', { cookie, headers: XHR, body: { name: 'gina', password: 'gina-Pass-1' } });
    expect(made.status, made.body).toBe(201);
    // gina logs in on the cluster node (whichever worker takes her) and on node B.
    const here = await RawClient.connect(served.port, '127.0.0.1');
    await here.expectCmd('USER gina', 331);
    await here.expectCmd('PASS gina-Pass-1', 230);
    const onB = await RawClient.connect(nodes[1]!.served.port, '127.0.0.1');
    await onB.expectCmd('USER gina', 331);
    await onB.expectCmd('PASS gina-Pass-1', 230);
    let listed: { id: string; user: string; node?: string; worker?: number }[] = [];
    await until(async () => {
      listed = (await rawCall(base!, 'GET', '/api/sessions', { cookie })).json();
      return listed.filter((s) => s.user === 'gina').length === 2;
    }, 'both of gina\'s sessions listed by the cluster\'s console', 10_000, 200);
    // Past a publish period the worker's own rows in the database do not show it twice.
    await new Promise((r) => setTimeout(r, 2_500));
    listed = (await rawCall(base!, 'GET', '/api/sessions', { cookie })).json();
    const gina = listed.filter((s) => s.user === 'gina');
    expect(gina).toHaveLength(2);
    const local = gina.find((s) => s.node === undefined)!;
    const remote = gina.find((s) => s.node !== undefined)!;
    expect(local.worker).toBeGreaterThanOrEqual(1);
    const ended = await rawCall(base!, 'DELETE', `/api/sessions/${encodeURIComponent(remote.id)}`, { cookie, headers: XHR });
    expect(ended.status, ended.body).toBe(204);
    expect((await onB.reply(5_000)).code).toBe(421);
    expect((await here.cmd('NOOP')).code).toBe(200);
    here.close();
    expect((await rawCall(base!, 'DELETE', '/api/users/gina', { cookie, headers: XHR })).status).toBe(204);
    await served.stop();
  }, 60_000);

  it('every user route was called with success, and every answer is documented', () => {
    const doc = openApiDocument('x') as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    for (const r of ROUTES.filter((r) => r.path.startsWith('/api/users') || r.path.startsWith('/api/sessions'))) {
      const op = doc.paths[r.path]![r.method.toLowerCase()]!;
      const statuses = seen.filter((s) => s.method === r.method && s.route === r.path).map((s) => s.status);
      expect(statuses, `${r.method} ${r.path} was called with success`).toContain(r.status);
      for (const s of statuses) expect(s in op.responses || (s >= 400 && s < 500 && '4XX' in op.responses) || (s >= 500 && '5XX' in op.responses), `${r.method} ${r.path} ${s} documented`).toBe(true);
    }
  });
});

/** Reads GET /api/events until `done(text so far)`; resolves with the status; rejects after 15 s. */
function eventsUntil(base: string, cookie: string, done: (text: string) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('the event stream did not show it in 15 s'));
    }, 15_000);
    const req = request(new URL('/api/events', base), { headers: { cookie }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        if (done(text)) {
          clearTimeout(timer);
          req.destroy();
          resolve(res.statusCode ?? 0);
        }
      });
    });
    req.on('error', (err) => {
      if (!req.destroyed) reject(err);
    });
    req.end();
  });
}
