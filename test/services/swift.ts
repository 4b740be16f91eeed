/**
 * OpenStack Swift with its S3 API (s3api + tempauth), on loopback, for the S3 backend's tests and bench.
 *
 * `startSwift()` writes the rings and the four server configs into a fresh directory, starts the proxy,
 * account, container and object servers (Debian's `swift-*` packages) on free ports and waits until the
 * S3 endpoint answers; `stop()` kills them and removes the directory. S3 credentials: access key
 * `test:tester`, secret `testing` (tempauth's `user_test_tester`), region `us-east-1`.
 *
 * Facts it relies on: the servers always read the packaged /etc/swift/swift.conf (hash suffix, storage
 * policies) whatever `swift_dir` says, the rings can live anywhere; the three rings are built in one
 * `/usr/bin/python3` call with `swift.common.ring.RingBuilder` (about 1 s, the CLI takes 9 s; the `python3`
 * on PATH may lack swift); the proxy needs the `cache` filter for tempauth (no memcached runs); the object
 * server needs user xattrs where its devices live, so the directory is under /var/tmp (not a tmpfs) unless
 * FTPSD_SWIFT_DIR names another parent, and a file system without them fails with a clear message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request } from 'node:http';
import { join } from 'node:path';

export interface SwiftService {
  /** `http://127.0.0.1:PORT`, the S3 endpoint. */
  readonly endpoint: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The temp dir (configs, rings, devices, logs). */
  readonly dir: string;
  /** The servers' output so far (for a failed test's message). */
  output(): string;
  stop(): Promise<void>;
}

const PYTHON = '/usr/bin/python3';
const SERVERS = ['account', 'container', 'object'] as const;

/** A free loopback port: bind port 0, read it, close. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${out.trim()}`))));
  });
}

/** Checks user xattrs on the devices dir and builds the three rings, in one python call. */
const RING_SCRIPT = `
import os, sys
from swift.common.ring import RingBuilder
d, devices = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(devices, 'sdb1'), exist_ok=True)
probe = os.path.join(devices, 'sdb1', '.xattr-probe')
open(probe, 'w').close()
try:
    os.setxattr(probe, 'user.swift.probe', b'1')
except OSError as e:
    sys.exit('the file system of %s has no user xattrs (%s): Swift needs them; set FTPSD_SWIFT_DIR to a directory on ext4/xfs' % (devices, e))
os.unlink(probe)
for name, port in zip(('account', 'container', 'object'), sys.argv[3:6]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port), 'device': 'sdb1', 'weight': 100})
    b.rebalance()
    b.get_ring().save(os.path.join(d, name + '.ring.gz'))
`;

function serverConf(dir: string, port: number, kind: string): string {
  return `[DEFAULT]
devices = ${join(dir, 'devices')}
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = root
swift_dir = ${dir}
log_facility = LOG_LOCAL0
log_level = WARNING

[pipeline:main]
pipeline = healthcheck ${kind}-server

[filter:healthcheck]
use = egg:swift#healthcheck

[app:${kind}-server]
use = egg:swift#${kind}
`;
}

function proxyConf(dir: string, port: number): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = root
swift_dir = ${dir}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck cache s3api tempauth copy slo dlo proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
`;
}

/** Resolves once `GET url` answers 200 (polled), or rejects after `timeoutMs`. */
async function waitHealthy(url: string, timeoutMs: number, failed: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = failed();
    if (why) throw new Error(why);
    const ok = await new Promise<boolean>((resolve) => {
      const req = request(url, { timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`swift did not answer ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts Swift (proxy with s3api, account, container, object servers) in a temp dir on free ports. */
export async function startSwift(): Promise<SwiftService> {
  const parent = process.env.FTPSD_SWIFT_DIR ?? '/var/tmp';
  const dir = await mkdtemp(join(parent, 'ftpsd-swift-'));
  const children: ChildProcess[] = [];
  let log = '';
  let exited: string | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [proxy, ...ports] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // The account, container and object servers need no ring to start: they start while the rings are built.
    const spawnServer = (kind: string): void => {
      const child = spawn(PYTHON, [`/usr/bin/swift-${kind}-server`, join(dir, `${kind}-server.conf`)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      const keep = (d: Buffer): void => {
        if (log.length < 200_000) log += d.toString();
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      child.on('error', (err) => (exited ??= `swift-${kind}-server: ${err.message}`));
      child.on('exit', (code, signal) => (exited ??= `swift-${kind}-server exited (${code ?? signal}): ${log.slice(-2000)}`));
    };
    await mkdir(join(dir, 'devices', 'sdb1'), { recursive: true });
    for (const [i, kind] of SERVERS.entries()) await writeFile(join(dir, `${kind}-server.conf`), serverConf(dir, ports[i]!, kind));
    await writeFile(join(dir, 'proxy-server.conf'), proxyConf(dir, proxy!));
    const rings = run(PYTHON, ['-c', RING_SCRIPT, dir, join(dir, 'devices'), ...ports.map(String)], 30_000);
    for (const kind of SERVERS) spawnServer(kind);
    await rings;
    spawnServer('proxy');
    await waitHealthy(`http://127.0.0.1:${proxy}/healthcheck`, 30_000, () => exited);
    for (const port of ports) await waitHealthy(`http://127.0.0.1:${port}/healthcheck`, 30_000, () => exited);
    return {
      endpoint: `http://127.0.0.1:${proxy}`,
      region: 'us-east-1',
      accessKeyId: 'test:tester',
      secretAccessKey: 'testing',
      dir,
      output: () => log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
