/**
 * Many nodes behind HAProxy: two `ftpsd serve` processes (127.0.0.2 and 127.0.0.3) over one shared
 * directory and one PostgreSQL (`--user-db`), behind HAProxy run from deploy/haproxy.cfg (its addresses
 * and ports replaced by loopback ones), control connections balanced with `send-proxy-v2` for explicit
 * FTPS and implicit FTPS. Each node advertises its own passive address and port range, so data goes
 * straight to the node that holds the session. Clients connect from 127.0.0.7 (their real address,
 * which the nodes see through the PROXY header).
 *
 * Checked: a user added with `ftpsd user add` logs in through the balancer on both nodes; a file uploaded
 * through one node lists and downloads byte-identical through the other (curl, PROT P, passive and active, and lftp
 * over implicit FTPS); failed logins through the balancer ban the client on both nodes; a quota counts
 * uploads made through both nodes. The S3 variant (three nodes over one bucket) is many-nodes-s3.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBin, startPostgres, type TestPostgres } from '../services/postgres.js';
import { freePortRange, haproxyPath } from './service-helpers.js';
import { failLogin, refusedFrom, startBalancer, type Balancer } from './balancer.js';
import { Served, assertBuilt, killAll, removeTempDirs, run, tempDir } from '../cli/cli.js';
import { curl, lftp, lftpQuote as q } from '../e2e/clients.js';
import { expectSuccess, sha256 } from '../e2e/helpers.js';
import { until } from '../helpers/poll.js';

const HAPROXY = haproxyPath();
const PG = postgresBin();
if (!HAPROXY || !PG) console.warn('many-nodes HAProxy test skipped: needs haproxy and postgresql (apt-get install -y haproxy postgresql)');

const CLIENT = '127.0.0.7';
const NODE_HOSTS = ['127.0.0.2', '127.0.0.3'];

describe.skipIf(!HAPROXY || !PG)('two nodes behind HAProxy (deploy/haproxy.cfg), one directory, one user database', () => {
  let db: TestPostgres;
  let dir: string;
  let balancer: Balancer;
  const nodes: Served[] = [];
  const nodeArgs: ((explicit: number, implicit: number) => string[])[] = [];
  const ports = { ftp: 0, ftps: 0 };
  let password = '';
  const env = () => ({ FTPSD_USER_DB: db.url });
  const explicitUrl = (path: string) => `ftp://127.0.0.1:${ports.ftp}${path}`;
  const logins = (n: Served, user: string) => n.stdout.split('\n').filter((l) => l.includes('"msg":"login"') && l.includes(`"user":"${user}"`)).length;

  beforeAll(async () => {
    assertBuilt();
    db = await startPostgres();
    dir = await tempDir();
    await mkdir(join(dir, 'shared'), { recursive: true });
    await writeFile(join(dir, 'ftpsd.yaml'), 'security:\n  ban:\n    failures: 3\n');
    const started = await Promise.all(
      NODE_HOSTS.map(async (host, i) => {
        const range = await freePortRange(10, 20_000 + i * 6_000, 25_000 + i * 6_000, host);
        nodeArgs[i] = (explicit, implicit) => [
          '--listen', `${host}:${explicit}`, '--implicit-listen', `${host}:${implicit}`, '--root', join(dir, 'shared'), '--state-dir', join(dir, `state${i}`),
          '--proxy-protocol', '127.0.0.1/32', '--pasv-address', host, '--pasv-ports', `${range.min}-${range.max}`, '--log-format', 'json',
          '--config', join(dir, 'ftpsd.yaml')];
        return Served.start(nodeArgs[i]!(0, 0), { env: env() });
      }),
    );
    nodes.push(...started);
    balancer = await startBalancer(HAPROXY!, dir, nodes.map((n, i) => ({ host: NODE_HOSTS[i]!, explicit: n.port, implicit: n.banner.implicit[0]!.port })), CLIENT);
    ports.ftp = balancer.ftp;
    ports.ftps = balancer.ftps;
    const added = await run(['user', 'add', 'eve', '--quota-bytes', '600000'], { env: env() });
    expect(added.code).toBe(0);
    password = added.stdout.trim();
  }, 120_000);

  afterAll(async () => {
    await balancer?.stop();
    killAll();
    await db?.close();
    await removeTempDirs();
  });

  const auth = () => ['--interface', CLIENT, '--noproxy', '*', '--user', `eve:${password}`];

  it('a user added with ftpsd user logs in through the balancer on both nodes; an upload through one downloads byte-identical through the other (curl, PROT P, passive)', async () => {
    const body = randomBytes(200_000);
    const local = join(dir, 'up.bin');
    await writeFile(local, body);
    expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '-T', local, explicitUrl('/shared.bin')]));
    // Several connections through the balancer: every node serves some, each sees the same file.
    for (let i = 0; i < 4; i++) {
      const back = join(dir, `back${i}.bin`);
      expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '--disable-epsv', '-o', back, explicitUrl('/shared.bin')]));
      expect(sha256(await readFile(back))).toBe(sha256(body));
      const list = expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '-l', explicitUrl('/')]));
      expect(list.stdout.split(/\r?\n/)).toContain('shared.bin');
    }
    await until(() => nodes.every((n) => logins(n, 'eve') > 0), 'logins of eve on both nodes', 5_000);
    // The nodes saw the real client, from the PROXY header.
    expect(nodes.every((n) => n.stdout.includes(`"peer":"${CLIENT}"`))).toBe(true);
  });

  it('lftp over implicit FTPS through the balancer: upload, list and download, passive and active (PROT P)', async () => {
    const body = randomBytes(100_000);
    const local = join(dir, 'lftp-up.bin');
    const back = join(dir, 'lftp-back.bin');
    await writeFile(local, body);
    const open = `open -u eve,${q(password)} ftps://127.0.0.1:${ports.ftps}`;
    const r = await lftp([`set net:socket-bind-ipv4 ${CLIENT}`, 'set ftp:ssl-protect-data yes', open, `put ${q(local)} -o lftp.bin`, `get lftp.bin -o ${q(back)}`, 'cls -1'].join('; '));
    expectSuccess(r);
    expect(r.stdout).toContain('lftp.bin');
    expect(sha256(await readFile(back))).toBe(sha256(body));
    // Active: the node connects to the client's real address (from the PROXY header).
    const active = join(dir, 'lftp-active.bin');
    expectSuccess(await lftp([`set net:socket-bind-ipv4 ${CLIENT}`, 'set ftp:ssl-protect-data yes', 'set ftp:passive-mode off', 'set ftp:auto-passive-mode no', `set ftp:port-ipv4 ${CLIENT}`, open, `get lftp.bin -o ${q(active)}`].join('; ')));
    expect(sha256(await readFile(active))).toBe(sha256(body));
    expect(sha256(await readFile(join(dir, 'shared', 'eve', 'lftp.bin')))).toBe(sha256(body));
  });

  it('one quota across the nodes: uploads through both count against the figure in the database', async () => {
    // 300 000 bytes are used (200 000 + 100 000); 600 000 is the quota.
    const big = join(dir, 'big.bin');
    await writeFile(big, randomBytes(250_000));
    // Straight to each node (not through the balancer). Node 2 learns the usage first (a small upload),
    // so it holds a figure of its own before node 1's upload: only the database's tells it of that one.
    const direct = (i: number, name: string) => `ftp://${NODE_HOSTS[i]}:${nodes[i]!.port}/${name}`;
    const small = join(dir, 'small.bin');
    await writeFile(small, randomBytes(1_000));
    expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '-T', small, direct(1, 'small.bin')]));
    expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '-T', big, direct(0, 'q1.bin')]));
    await until(async () => {
      const r = await db.usage('eve');
      return r !== undefined && r >= 550_000;
    }, 'the usage in the database', 5_000);
    const refused = await curl([...auth(), '--ssl-reqd', '--insecure', '-T', big, direct(1, 'q2.bin')]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("Exceeded storage allocation"); // 552
  });

  it('kill -9 of a node during an upload: no partial file appears, the retry through the balancer completes on the other node; the node restarts and serves again', async () => {
    const body = randomBytes(3_000_000);
    const local = join(dir, 'kill.bin');
    await writeFile(local, body);
    await writeFile(join(dir, 'small.bin'), 'x');
    // Make room under the quota first (the earlier test filled it).
    for (const f of ['q1.bin', 'shared.bin', 'lftp.bin', 'small.bin']) await curl([...auth(), '--ssl-reqd', '--insecure', '-Q', `DELE ${f}`, explicitUrl('/')]);
    await run(['user', 'set', 'eve', '--quota-bytes', 'off'], { env: env() });
    const before = nodes.map((n) => logins(n, 'eve'));
    const upload = curl([...auth(), '--ssl-reqd', '--insecure', '--limit-rate', '300k', '-T', local, explicitUrl('/kill.bin')]);
    let victim = -1;
    await until(() => {
      victim = nodes.findIndex((n, i) => logins(n, 'eve') > before[i]!);
      return victim >= 0;
    }, 'the upload to start', 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const killed = nodes[victim]!;
    const ports = [killed.port, killed.banner.implicit[0]!.port] as const;
    await killed.stop('SIGKILL');
    const cut = await upload;
    expect(cut.code).not.toBe(0);
    // No partial file under the name (a temp file has a hidden name, and the restart removes it).
    const listing = expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '-l', explicitUrl('/')]));
    expect(listing.stdout.split(/\r?\n/)).not.toContain('kill.bin');
    // The client's retry: through the balancer, which sends it to the node that is up.
    expectSuccess(await curl([...auth(), '--ssl-reqd', '--insecure', '-T', local, explicitUrl('/kill.bin')]));
    expect(sha256(await readFile(join(dir, 'shared', 'eve', 'kill.bin')))).toBe(sha256(body));
    // The killed node restarts on its ports and serves again.
    nodes[victim] = await Served.start(nodeArgs[victim]!(ports[0], ports[1]), { env: env() });
    const back = join(dir, 'kill-back.bin');
    await until(async () => {
      const r = await curl([...auth(), '--ssl-reqd', '--insecure', '-o', back, explicitUrl('/kill.bin')]);
      return r.code === 0 && logins(nodes[victim]!, 'eve') > 0;
    }, 'the restarted node to serve', 20_000, 100);
    expect(sha256(await readFile(back))).toBe(sha256(body));
  }, 120_000);

  it('failed logins spread over the nodes by the balancer ban the client on both', async () => {
    const from = '127.0.0.8';
    for (let i = 0; i < 3; i++) await failLogin(ports.ftp, '127.0.0.1', from);
    const refusedAt = (i: number) => refusedFrom(nodes[i]!.port, NODE_HOSTS[i]!, from);
    await until(async () => (await refusedAt(0)) && (await refusedAt(1)), 'the ban on both nodes', 3_000);
    expect((await run(['ban', 'remove', from], { env: env() })).code).toBe(0);
    await until(async () => !(await refusedAt(0)) && !(await refusedAt(1)), 'the ban lifted on both nodes', 3_000);
  });
});
