/**
 * Many nodes over one bucket: three `ftpsd serve` processes from dist/ (127.0.0.2, .3, .4), each with its
 * own passive range, serving `--root s3://BUCKET/ftp` on one OpenStack Swift (test/services/swift.ts) with
 * one PostgreSQL as the user database (test/services/postgres.ts), behind HAProxy run from
 * deploy/haproxy.cfg (`send-proxy-v2`; test/ops/balancer.ts). Clients connect from 127.0.0.7.
 *
 * Checked: a user added with `ftpsd user add` logs in through the balancer on every node, its home a key
 * prefix below the served prefix (a database home outside the root is refused); a file uploaded through
 * node 1 lists and downloads byte-identical through nodes 2 and 3 (curl and lftp, PROT P, passive and
 * active); failed logins spread over the three nodes ban the address on all three; a removed user's
 * session on node 2 ends with 421; `kill -9` of a node during an upload leaves no object, the client's
 * retry through the balancer completes on another node, the killed node restarts (aborting the multipart
 * upload it had begun) and serves again; PostgreSQL stopped and started while sessions transfer and log
 * in: logins get 421 meanwhile and recover, every transfer completes.
 *
 * curl 7.87/7.88 (Debian 12's) never starts TLS on an accepted active data connection (curl#10666, fixed
 * in curl 8.0.0): with them curl's active mode runs with `--ftp-ssl-control` (TLS control, clear data)
 * and lftp covers active PROT P; a newer curl runs active PROT P too.
 */
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3/client.js';
import { postgresBin, startPostgres, type TestPostgres } from '../services/postgres.js';
import { startSwift, type SwiftService } from '../services/swift.js';
import { freePortRange, haproxyPath } from './service-helpers.js';
import { failLogin, refusedFrom, startBalancer, type Balancer } from './balancer.js';
import { Served, assertBuilt, killAll, removeTempDirs, run, tempDir } from '../cli/cli.js';
import { curl, lftp, lftpQuote as q } from '../e2e/clients.js';
import { expectSuccess, sha256 } from '../e2e/helpers.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/poll.js';

const HAPROXY = haproxyPath();
const PG = postgresBin();
const SWIFT = spawnSync('sh', ['-c', 'test -x /usr/bin/swift-proxy-server']).status === 0;
if (!HAPROXY || !PG || !SWIFT) console.warn('many-nodes S3 test skipped: needs haproxy, postgresql and swift (apt-get install -y haproxy postgresql swift swift-proxy swift-object swift-container swift-account)');

/** curl's version has working active-mode TLS data connections (>= 8.0.0, see the header). */
const curlMajor = Number(/^curl (\d+)\./.exec(spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
const CURL_ACTIVE_TLS = curlMajor >= 8;

const CLIENT = '127.0.0.7';
const BANNED = '127.0.0.8';
const NODE_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const BUCKET = 'ftpsd-nodes';

describe.skipIf(!HAPROXY || !PG || !SWIFT)('three nodes behind HAProxy over one S3 bucket and one user database', () => {
  let swift: SwiftService;
  let s3: S3Client;
  let db: TestPostgres;
  let dir: string;
  let balancer: Balancer;
  const nodes: Served[] = [];
  const nodeArgs: ((explicit: number, implicit: number) => string[])[] = [];
  let password = '';
  let env: () => Record<string, string>;
  const tls = ['--ssl-reqd', '--insecure'];
  const auth = (user = 'eve', pw = password) => ['--interface', CLIENT, '--noproxy', '*', '--user', `${user}:${pw}`];
  const viaBalancer = (path: string) => `ftp://127.0.0.1:${balancer.ftp}${path}`;
  const direct = (i: number, path: string) => `ftp://${NODE_HOSTS[i]}:${nodes[i]!.port}${path}`;
  const logins = (n: Served, user: string) => n.stdout.split('\n').filter((l) => l.includes('"msg":"login"') && l.includes(`"user":"${user}"`)).length;
  const object = async (key: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  };
  const exists = (key: string) =>
    s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
      () => true,
      (err: { $metadata?: { httpStatusCode?: number } }) => {
        if (err.$metadata?.httpStatusCode === 404) return false;
        throw err;
      },
    );
  const marks = async () => (await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'ftp/.ftpsd-uploads/' }))).KeyCount ?? 0;
  const multipartUploads = async () => (await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads ?? [];

  beforeAll(async () => {
    assertBuilt();
    [swift, db, dir] = await Promise.all([startSwift(), startPostgres(), tempDir()]);
    s3 = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    env = () => ({
      FTPSD_USER_DB: db.url,
      AWS_ENDPOINT_URL: swift.endpoint,
      AWS_REGION: swift.region,
      AWS_ACCESS_KEY_ID: swift.accessKeyId,
      AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
    });
    // Parts of 5 MiB (S3's least), so the kill test's upload begins a multipart upload soon.
    await writeFile(join(dir, 'ftpsd.yaml'), 'security:\n  ban:\n    failures: 3\ns3:\n  partSizeMiB: 5\n');
    const started = await Promise.all(
      NODE_HOSTS.map(async (host, i) => {
        const range = await freePortRange(10, 20_000 + i * 4_000, 23_900 + i * 4_000, host);
        nodeArgs[i] = (explicit, implicit) => [
          '--listen', `${host}:${explicit}`, '--implicit-listen', `${host}:${implicit}`, '--root', `s3://${BUCKET}/ftp`, '--state-dir', join(dir, `state${i}`),
          '--proxy-protocol', '127.0.0.1/32', '--pasv-address', host, '--pasv-ports', `${range.min}-${range.max}`, '--log-format', 'json',
          '--config', join(dir, 'ftpsd.yaml')];
        return Served.start(nodeArgs[i]!(0, 0), { env: env() });
      }),
    );
    nodes.push(...started);
    balancer = await startBalancer(HAPROXY!, dir, nodes.map((n, i) => ({ host: NODE_HOSTS[i]!, explicit: n.port, implicit: n.banner.implicit[0]!.port })), CLIENT);
    const added = await run(['user', 'add', 'eve'], { env: env() });
    expect(added.code).toBe(0);
    password = added.stdout.trim();
  }, 120_000);

  afterAll(async () => {
    await balancer?.stop();
    killAll();
    s3?.destroy();
    await Promise.all([db?.close(), swift?.stop()]);
    await removeTempDirs();
  });

  it('a user added with ftpsd user add logs in through the balancer on every node; the home is a key prefix below the root, one outside it is refused', async () => {
    await writeFile(join(dir, 'hello.txt'), 'hello\n');
    expectSuccess(await curl([...auth(), ...tls, '-T', join(dir, 'hello.txt'), viaBalancer('/hello.txt')]));
    expect((await object('ftp/eve/hello.txt')).toString()).toBe('hello\n');
    // Connections through the balancer until every node has served eve (leastconn spreads them).
    for (let i = 0; i < 12 && !nodes.every((n) => logins(n, 'eve') > 0); i++) {
      const list = expectSuccess(await curl([...auth(), ...tls, '-l', viaBalancer('/')]));
      expect(list.stdout.split(/\r?\n/)).toContain('hello.txt');
    }
    expect(nodes.map((n) => logins(n, 'eve') > 0)).toEqual([true, true, true]);
    // Every node saw the real client, from the PROXY header.
    expect(nodes.every((n) => n.stdout.includes(`"peer":"${CLIENT}"`))).toBe(true);
    // A home given as a key prefix below the root (an s3:// URL inside it) serves that prefix.
    const shared = (await run(['user', 'add', 'sam', '--home', `s3://${BUCKET}/ftp/eve`], { env: env() })).stdout.trim();
    const samList = expectSuccess(await curl([...auth('sam', shared), ...tls, '-l', viaBalancer('/')]));
    expect(samList.stdout.split(/\r?\n/)).toContain('hello.txt');
    // A home outside the served root: the login fails like a wrong password, the node's log says why.
    const out = (await run(['user', 'add', 'oscar', '--home', 's3://another-bucket/oscar'], { env: env() })).stdout.trim();
    const refused = await curl([...auth('oscar', out), ...tls, '-l', viaBalancer('/')]);
    expect(refused.code).toBe(67);
    await until(() => nodes.some((n) => n.stdout.includes('home is outside the served root')), 'the refusal in a log', 3_000);
  });

  it('a file uploaded through node 1 lists and downloads byte-identical through nodes 2 and 3 (curl and lftp, PROT P, passive and active)', async () => {
    const body = randomBytes(300_000);
    const local = join(dir, 'n1.bin');
    await writeFile(local, body);
    expectSuccess(await curl([...auth(), ...tls, '-T', local, direct(0, '/n1.bin')]));
    expect(sha256(await object('ftp/eve/n1.bin'))).toBe(sha256(body));
    for (const i of [1, 2]) {
      const list = expectSuccess(await curl([...auth(), ...tls, '-l', direct(i, '/')]));
      expect(list.stdout.split(/\r?\n/)).toContain('n1.bin');
      const curlModes: [string, string[]][] = [
        ['epsv', []],
        ['pasv', ['--disable-epsv']],
        // Active, PROT P: the node connects to the client's address (with a curl that can, see the header).
        ...(CURL_ACTIVE_TLS ? [['active', ['--ftp-port', CLIENT]] as [string, string[]]] : []),
      ];
      for (const [mode, extra] of curlModes) {
        const back = join(dir, `curl-${i}-${mode}.bin`);
        expectSuccess(await curl([...auth(), ...tls, ...extra, '-o', back, direct(i, '/n1.bin')]));
        expect(sha256(await readFile(back)), `curl ${mode} through node ${i + 1}`).toBe(sha256(body));
      }
      // lftp, PROT P, passive then active (the node connects to CLIENT).
      const open = `open -u eve,${q(password)} ftp://${NODE_HOSTS[i]}:${nodes[i]!.port}`;
      const base = [`set net:socket-bind-ipv4 ${CLIENT}`, 'set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes'];
      const passive = join(dir, `lftp-${i}-passive.bin`);
      const active = join(dir, `lftp-${i}-active.bin`);
      const r = expectSuccess(await lftp([...base, open, 'cls -1', `get n1.bin -o ${q(passive)}`].join('; ')));
      expect(r.stdout).toContain('n1.bin');
      expectSuccess(await lftp([...base, 'set ftp:passive-mode off', 'set ftp:auto-passive-mode no', `set ftp:port-ipv4 ${CLIENT}`, open, `get n1.bin -o ${q(active)}`].join('; ')));
      expect(sha256(await readFile(passive))).toBe(sha256(body));
      expect(sha256(await readFile(active))).toBe(sha256(body));
    }
    // lftp uploads through node 2 in active mode, PROT P; node 3 serves it.
    const up = join(dir, 'lftp-up.bin');
    const upBody = randomBytes(120_000);
    await writeFile(up, upBody);
    expectSuccess(await lftp([`set net:socket-bind-ipv4 ${CLIENT}`, 'set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes', 'set ftp:passive-mode off', 'set ftp:auto-passive-mode no', `set ftp:port-ipv4 ${CLIENT}`, `open -u eve,${q(password)} ftp://${NODE_HOSTS[1]}:${nodes[1]!.port}`, `put ${q(up)} -o n2.bin`].join('; ')));
    const back = join(dir, 'n2-back.bin');
    expectSuccess(await curl([...auth(), ...tls, '-o', back, direct(2, '/n2.bin')]));
    expect(sha256(await readFile(back))).toBe(sha256(upBody));
    // curl, active, PROT P through the balancer (the PORT address is the client's, from the PROXY header).
    if (CURL_ACTIVE_TLS) {
      const active = join(dir, 'curl-balanced-active.bin');
      expectSuccess(await curl([...auth(), ...tls, '--ftp-port', CLIENT, '-o', active, viaBalancer('/n2.bin')]));
      expect(sha256(await readFile(active))).toBe(sha256(upBody));
    }
  });

  it('failed logins spread over the three nodes ban the address on all three; ftpsd ban remove lifts it on all three', async () => {
    // One failure on each node (security.ban.failures is 3): only the database's count reaches 3.
    for (const i of [0, 1, 2]) await failLogin(nodes[i]!.port, NODE_HOSTS[i]!, BANNED);
    const refusedAt = (i: number) => refusedFrom(nodes[i]!.port, NODE_HOSTS[i]!, BANNED);
    const all = async (want: boolean) => (await Promise.all([0, 1, 2].map(refusedAt))).every((r) => r === want);
    await until(() => all(true), 'the ban on all three nodes', 3_000);
    expect((await run(['ban', 'remove', BANNED], { env: env() })).code).toBe(0);
    await until(() => all(false), 'the ban lifted on all three nodes', 3_000);
  });

  it("a removed user's session on node 2 ends with 421", async () => {
    const pw = (await run(['user', 'add', 'mallory'], { env: env() })).stdout.trim();
    const c = await RawClient.connect(nodes[1]!.port, NODE_HOSTS[1], { localAddress: CLIENT });
    await c.expectCmd('AUTH TLS', 234);
    await c.upgrade();
    await c.expectCmd('USER mallory', 331);
    await c.expectCmd(`PASS ${pw}`, 230);
    expect((await run(['user', 'remove', 'mallory'], { env: env() })).code).toBe(0);
    const ended = await c.reply(3_000);
    expect(ended.code).toBe(421);
    c.close();
  });

  it('kill -9 of a node during an upload: no object appears, the retry through the balancer completes on another node; the node restarts, aborts its multipart upload and serves again', async () => {
    const body = randomBytes(7 * 1024 * 1024);
    const local = join(dir, 'kill.bin');
    await writeFile(local, body);
    const before = nodes.map((n) => logins(n, 'eve'));
    const upload = curl([...auth(), ...tls, '--limit-rate', '2M', '-T', local, viaBalancer('/kill.bin')]);
    let victim = -1;
    await until(() => {
      victim = nodes.findIndex((n, i) => logins(n, 'eve') > before[i]!);
      return victim >= 0;
    }, 'the upload to start', 10_000);
    // The first 5 MiB part begins a multipart upload and its mark (under the root's prefix, though eve's
    // home is below it): kill the node while the upload is open.
    await until(async () => (await multipartUploads()).some((u) => u.Key === 'ftp/eve/kill.bin') && (await marks()) > 0, 'the multipart upload and its mark', 10_000, 50);
    const killed = nodes[victim]!;
    const ports = [killed.port, killed.banner.implicit[0]!.port] as const;
    await killed.stop('SIGKILL');
    expect((await upload).code).not.toBe(0);
    expect(await exists('ftp/eve/kill.bin')).toBe(false);
    // The client's retry goes through the balancer, which sends it to a node that is up.
    expectSuccess(await curl([...auth(), ...tls, '-T', local, viaBalancer('/kill.bin')]));
    expect(sha256(await object('ftp/eve/kill.bin'))).toBe(sha256(body));
    // The killed node restarts on its ports: it aborts the multipart upload it had begun, and serves again.
    nodes[victim] = await Served.start(nodeArgs[victim]!(ports[0], ports[1]), { env: env() });
    await until(async () => (await multipartUploads()).length === 0 && (await marks()) === 0, 'the stale multipart upload aborted', 5_000, 100);
    const back = join(dir, 'kill-back.bin');
    await until(async () => {
      const r = await curl([...auth(), ...tls, '-o', back, viaBalancer('/kill.bin')]);
      return r.code === 0 && logins(nodes[victim]!, 'eve') > 0;
    }, 'the restarted node to serve', 20_000, 50);
    expect(sha256(await readFile(back))).toBe(sha256(body));
  }, 60_000);

  it('PostgreSQL stopped and started while sessions transfer and log in: logins get 421, then recover; nothing is lost', async () => {
    const bodies = [0, 1, 2].map(() => randomBytes(400_000));
    await Promise.all(bodies.map((b, i) => writeFile(join(dir, `load${i}.bin`), b)));
    // Three uploads of about 2 s each, running across the outage.
    const uploads = bodies.map((_, i) => curl([...auth(), ...tls, '--limit-rate', '200k', '-T', join(dir, `load${i}.bin`), viaBalancer(`/load${i}.bin`)]));
    await new Promise((r) => setTimeout(r, 500));
    await db.stop();
    // Logins of database users now get 421 on whichever node the balancer picks.
    const during = await curl([...auth(), ...tls, '-l', viaBalancer('/')]);
    expect(during.code, during.stderr).toBe(28); // curl reports any 421 as a timeout
    await until(() => nodes.some((n) => n.stdout.includes('login refused: user database unavailable')), 'the 421 in a log', 3_000);
    await db.start();
    // Logins recover by themselves (each node reconnects with backoff).
    await until(async () => (await curl([...auth(), ...tls, '-l', viaBalancer('/')])).code === 0, 'logins to recover', 40_000, 200);
    await until(() => nodes.every((n) => n.stdout.includes('user database reachable again')), 'every node back on the database', 40_000, 100);
    // The transfers that ran across the outage completed, byte-identical.
    const results = await Promise.all(uploads);
    for (const [i, r] of results.entries()) {
      expectSuccess(r);
      expect(sha256(await object(`ftp/eve/load${i}.bin`))).toBe(sha256(bodies[i]!));
    }
    // The users are all still there.
    const list = await run(['user', 'list', '--json'], { env: env() });
    expect((JSON.parse(list.stdout) as { name: string }[]).map((u) => u.name).sort()).toEqual(['eve', 'oscar', 'sam']);
  }, 120_000);
});
