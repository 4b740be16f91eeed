/**
 * Two `ftpsd serve` processes on one PostgreSQL (`--user-db`) over one shared directory: users added,
 * changed, disabled and removed with `ftpsd user` reach both within a second (LISTEN/NOTIFY), without a
 * restart; bans are decided across nodes and lifted from the command line; a name in both the config and
 * the database stops the start; the database stopped mid-run gives database logins a 421 with a fixed
 * text, keeps running sessions and config users, says `degraded` on /healthz, and recovers by itself.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, writeAll } from '../helpers/raw-client.js';
import { until } from '../helpers/poll.js';
import { postgresBin, startPostgres, type TestPostgres } from '../services/postgres.js';
import { freePort } from '../ops/service-helpers.js';
import { Served, assertBuilt, killAll, removeTempDirs, run, tempDir } from './cli.js';

const BIN = postgresBin();
if (!BIN) console.warn('many-nodes tests skipped: postgresql is not installed (apt-get install -y postgresql)');

/** Each test connects from its own address, so the failures it makes on purpose ban only it (3 make a ban here). */
let source = '127.0.0.1';

/** Logs in over plain FTP (tlsRequired off here); resolves to the PASS reply. */
async function login(port: number, user: string, password: string, localAddress = source): Promise<{ client: RawClient; code: number; text: string }> {
  const client = await RawClient.connect(port, '127.0.0.1', { localAddress });
  await client.expectCmd(`USER ${user}`, 331);
  const r = await client.cmd(`PASS ${password}`);
  return { client, code: r.code, text: r.text };
}

async function loginCode(port: number, user: string, password: string): Promise<number> {
  const { client, code } = await login(port, user, password);
  client.close();
  return code;
}

describe.skipIf(!BIN)('two nodes on one user database', () => {
  let db: TestPostgres;
  let dir: string;
  const nodes: Served[] = [];
  let metricsPort: number;
  const env = () => ({ FTPSD_USER_DB: db.url });
  const user = (args: string[], input?: string) => run(['user', ...args], { env: env(), ...(input !== undefined ? { input } : {}) });

  const startNode = async (i: number, extra: string[] = []) =>
    Served.start(
      ['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'shared'), '--state-dir', join(dir, `state${i}`),
        '--tls-required', 'off', '--user', 'cfg:cfg-Pass-1', '--log-format', 'json', '--config', join(dir, 'ftpsd.yaml'), ...extra],
      { env: env() },
    );

  beforeAll(async () => {
    assertBuilt();
    db = await startPostgres();
    dir = await tempDir();
    await mkdir(join(dir, 'shared'), { recursive: true });
    await writeFile(join(dir, 'ftpsd.yaml'), 'security:\n  ban:\n    failures: 3\nlimits:\n  maxSessionsPerUser: 2\n');
    metricsPort = await freePort();
    // Both start at once: the migrations run once, under the advisory lock.
    const [a, b] = await Promise.all([startNode(1, ['--metrics-listen', `127.0.0.1:${metricsPort}`]), startNode(2)]);
    nodes.push(a!, b!);
  }, 90_000);

  afterAll(async () => {
    killAll();
    await db?.close();
    await removeTempDirs();
  });

  it('a user added with ftpsd user logs in at once on both nodes, and a new password applies to the next login', async () => {
    source = '127.0.0.21';
    expect((await user(['add', 'carol', '--password-stdin'], 'carol-Pass-1\n')).code).toBe(0);
    for (const n of nodes) expect(await loginCode(n.port, 'carol', 'carol-Pass-1')).toBe(230);
    expect((await user(['set', 'carol', '--password-stdin'], 'carol-Pass-2\n')).code).toBe(0);
    for (const n of nodes) {
      expect(await loginCode(n.port, 'carol', 'carol-Pass-1')).toBe(530);
      expect(await loginCode(n.port, 'carol', 'carol-Pass-2')).toBe(230);
    }
  });

  it('a disabled user: live sessions on both nodes end with 421 within a second; enabled again, logs in', async () => {
    source = '127.0.0.22';
    const live = await Promise.all(nodes.map((n) => login(n.port, 'carol', 'carol-Pass-2')));
    expect(live.map((l) => l.code)).toEqual([230, 230]);
    expect((await user(['set', 'carol', '--disable'])).code).toBe(0);
    // Measured from the command's exit (its commit): both sessions get the 421 within a second.
    const started = Date.now();
    for (const l of live) {
      const r = await l.client.reply(5_000);
      expect(r.code).toBe(421);
      expect(r.text).toContain('Account disabled or removed.');
      expect(await l.client.waitClosed()).toBe(true);
    }
    expect(Date.now() - started).toBeLessThan(1_000);
    for (const n of nodes) expect(await loginCode(n.port, 'carol', 'carol-Pass-2')).toBe(530);
    await user(['set', 'carol', '--enable']);
    expect(await loginCode(nodes[1]!.port, 'carol', 'carol-Pass-2')).toBe(230);
  });

  it('a removed user: the session on node 2 ends with 421; files in the shared directory stay', async () => {
    source = '127.0.0.23';
    const l = await login(nodes[1]!.port, 'carol', 'carol-Pass-2');
    expect(l.code).toBe(230);
    expect((await l.client.cmd('MKD keep')).code).toBe(257);
    expect((await user(['remove', 'carol'])).code).toBe(0);
    expect((await l.client.reply(2_000)).code).toBe(421);
    expect(await loginCode(nodes[0]!.port, 'carol', 'carol-Pass-2')).toBe(530);
    // The home of a user without one is <root>/<name>, shared by the nodes.
    expect((await import('node:fs')).existsSync(join(dir, 'shared', 'carol', 'keep'))).toBe(true);
  });

  it('failed logins spread over both nodes ban the address on both; ftpsd ban remove lifts it everywhere', async () => {
    source = '127.0.0.24';
    const from = '127.0.0.9';
    // 3 failures make a ban (security.ban.failures: 3): 2 on node 1, 1 on node 2.
    for (const port of [nodes[0]!.port, nodes[1]!.port, nodes[0]!.port]) {
      const { client, code } = await login(port, 'nobody', 'wrong', from);
      expect(code).toBe(530);
      client.close();
    }
    const refused = async (port: number) => {
      const c = await RawClient.connect(port, '127.0.0.1', { localAddress: from, greeting: false });
      const r = await c.reply(5_000).catch(() => undefined);
      c.close();
      return r?.code === 421;
    };
    await until(async () => (await refused(nodes[1]!.port)) && (await refused(nodes[0]!.port)), 'the ban on both nodes', 3_000);
    const list = await run(['ban', 'list'], { env: env() });
    expect(list.stdout).toContain(from);
    expect((await run(['ban', 'remove', from], { env: env() })).code).toBe(0);
    await until(async () => !(await refused(nodes[0]!.port)) && !(await refused(nodes[1]!.port)), 'the ban lifted on both nodes', 3_000);
  });

  it('the per-user session cap counts the sessions on every node', async () => {
    source = '127.0.0.27';
    expect((await user(['add', 'fay', '--password-stdin'], 'fay-Pass-1\n')).code).toBe(0);
    const a = await login(nodes[0]!.port, 'fay', 'fay-Pass-1');
    const b = await login(nodes[1]!.port, 'fay', 'fay-Pass-1');
    expect([a.code, b.code]).toEqual([230, 230]);
    // Node 1 holds one session of fay, node 2 the other: a third on node 1 makes three (cap 2).
    await until(async () => {
      const c = await login(nodes[0]!.port, 'fay', 'fay-Pass-1');
      c.client.close();
      if (c.code === 230) await new Promise((r) => setTimeout(r, 300));
      return c.code === 421 && c.text.includes('Too many sessions for this user');
    }, 'the cap across nodes', 5_000);
    b.client.close();
    // Node 2's session gone: room again on node 1, within about a second.
    await until(async () => {
      const c = await login(nodes[0]!.port, 'fay', 'fay-Pass-1');
      c.client.close();
      return c.code === 230;
    }, 'room again', 5_000, 200);
    a.client.close();
  });

  it('after a config reload (SIGHUP) database users still log in beside config users', async () => {
    source = '127.0.0.28';
    const node = nodes[0]!;
    node.child.kill('SIGHUP');
    await until(() => node.stdout.includes('config reloaded'), 'the reload', 10_000);
    expect(await loginCode(node.port, 'fay', 'fay-Pass-1')).toBe(230);
    expect(await loginCode(node.port, 'cfg', 'cfg-Pass-1')).toBe(230);
  });

  it('a name in both the config file and the database stops the start with one line', async () => {
    source = '127.0.0.25';
    expect((await user(['add', 'cfg', '--password-stdin'], 'x-Pass-1\n')).code).toBe(0);
    await expect(startNode(3)).rejects.toThrow(/user cfg in both the config file and the user database: remove one/);
    await user(['remove', 'cfg']);
  });

  it('the database down: database logins get 421, config users and live sessions go on, /healthz degraded; then it recovers', async () => {
    source = '127.0.0.26';
    expect((await user(['add', 'dan', '--password-stdin'], 'dan-Pass-1\n')).code).toBe(0);
    const live = await login(nodes[0]!.port, 'dan', 'dan-Pass-1');
    expect(live.code).toBe(230);
    await db.stop();
    try {
      const down = await login(nodes[0]!.port, 'dan', 'dan-Pass-1');
      expect(down.code).toBe(421);
      expect(down.text).toContain('User database unavailable; try again later.');
      down.client.close();
      expect(await loginCode(nodes[1]!.port, 'cfg', 'cfg-Pass-1')).toBe(230);
      expect((await live.client.cmd('PWD')).code).toBe(257);
      // A transfer of the live database user's session goes on too.
      await live.client.expectCmd('TYPE I', 200);
      const data = await live.client.epsv();
      live.client.send('STOR during-outage.bin');
      await live.client.expect(150);
      await writeAll(data, Buffer.alloc(100_000, 7));
      await live.client.expect(226);
      await until(async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).text()).startsWith('degraded'), '/healthz degraded', 5_000);
      expect(nodes[0]!.stdout).toContain('user database unreachable');
    } finally {
      await db.start();
    }
    await until(async () => (await loginCode(nodes[0]!.port, 'dan', 'dan-Pass-1')) === 230, 'logins back', 20_000, 200);
    await until(async () => (await (await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).text()) === 'ok\n', '/healthz ok', 20_000, 200);
    expect((await live.client.cmd('PWD')).code).toBe(257);
    live.client.close();
    expect((await import('node:fs')).statSync(join(dir, 'shared', 'dan', 'during-outage.bin')).size).toBe(100_000);
  }, 90_000);
});
