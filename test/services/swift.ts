/**
 * OpenStack Swift with its S3 API (s3api + tempauth), on loopback, for the S3 backend's tests and bench.
 *
 * `startSwift()` writes the four server configs into a fresh directory and starts one python launcher
 * (LAUNCHER below): it imports swift once, builds the rings and forks the proxy, account, container and
 * object servers (Debian's `swift-*` packages) on free ports; the readiness of all four is polled at once
 * every 20 ms. It starts in about 4.5 s on a loaded 2-core machine (it took 9 to 13 s as five separate
 * python processes, the rings before the proxy). `stop()` ends them and removes the directory; if the
 * test process dies without calling it (SIGKILL), the launcher notices its parent is gone and stops them.
 * S3 credentials: access key `test:tester`, secret `testing` (tempauth's `user_test_tester`), region
 * `us-east-1`.
 *
 * Facts it relies on: the servers always read the packaged /etc/swift/swift.conf (hash suffix, storage
 * policies) whatever `swift_dir` says, the rings can live anywhere; building the rings with
 * `swift.common.ring.RingBuilder` in python is fast (the CLI takes 9 s); `/usr/bin/python3` is used (the
 * `python3` on PATH may lack swift); the proxy needs the `cache` filter for tempauth (no memcached runs);
 * each server calls setsid, so the launcher kills each one's process group; the object
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
  /** The launcher's pid: the servers are its children (the bench sums their CPU time). */
  readonly pid: number;
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

/**
 * The launcher, one python process: it imports swift once, checks user xattrs on the devices dir, builds
 * the three rings, then forks the account, container, object and proxy servers (python starts once, not
 * five times). It is their watchdog: when its parent (the test process) is gone, even killed by SIGKILL,
 * or a server exits, it stops them all; the servers die with it (PR_SET_PDEATHSIG). SIGTERM stops them.
 */
const LAUNCHER = `import ctypes, json, os, shutil, signal, sys, time
# One python start for everything: swift's modules and the paste entry points are imported once,
# then each server is a fork of this process.
from swift.common.ring import RingBuilder
from swift.common.wsgi import run_wsgi
import swift.proxy.server, swift.common.middleware.s3api.s3api, swift.obj.server, swift.container.server, swift.account.server
import pkg_resources
d, devices, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
ports = json.loads(sys.argv[4])
probe = os.path.join(devices, 'sdb1', '.xattr-probe')
os.makedirs(os.path.dirname(probe), exist_ok=True)
open(probe, 'w').close()
try:
    os.setxattr(probe, 'user.swift.probe', b'1')
except OSError as e:
    sys.exit('the file system of %s has no user xattrs (%s): Swift needs them; set FTPSD_SWIFT_DIR to a directory on ext4/xfs' % (devices, e))
os.unlink(probe)
for name in ('account', 'container', 'object'):
    b = RingBuilder(6, 1, 1)
    b.add_dev({'id': 0, 'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': ports[name], 'device': 'sdb1', 'weight': 100})
    b.rebalance()
    b.get_ring().save(os.path.join(d, name + '.ring.gz'))
class DictCache:
    # The proxy's memcache, in its own memory: without one, every request asks the account and container
    # servers for their info again (about half the load); one proxy process keeps it consistent.
    def __init__(self, *args, **kwargs):
        self.d = {}
    def set(self, key, value, serialize=True, time=0, min_compress_len=0, raise_on_error=False):
        self.d[key] = (json.dumps(value), _time.time() + time if time else None)
    def get(self, key, raise_on_error=False):
        v = self.d.get(key)
        if v is None or (v[1] is not None and v[1] < _time.time()):
            self.d.pop(key, None)
            return None
        return json.loads(v[0])
    def incr(self, key, delta=1, time=0):
        n = max(0, int(self.get(key) or 0) + delta)
        self.set(key, n, time=time)
        return n
    def decr(self, key, delta=1, time=0):
        return self.incr(key, -delta, time)
    def delete(self, key, server_key=None):
        self.d.pop(key, None)
    def set_multi(self, mapping, server_key, serialize=True, time=0, min_compress_len=0):
        for k, v in mapping.items():
            self.set(k, v, time=time)
    def get_multi(self, keys, server_key):
        return [self.get(k) for k in keys]
# Swift (eventlet) ends an error reply to a HEAD with a chunked body's terminator, bytes a client does not
# expect after a HEAD: Node drops the connection, so every 404 HEAD cost a new one (thousands a minute,
# TIME_WAIT, connect timeouts). This outermost filter gives such replies a Content-Length instead.
import types
def head_length_filter(global_conf, **local_conf):
    def wrap(app):
        def middleware(env, start_response):
            if env.get('REQUEST_METHOD') != 'HEAD':
                return app(env, start_response)
            def start(status, headers, exc_info=None):
                if not any(k.lower() in ('content-length', 'transfer-encoding') for k, _ in headers):
                    headers = list(headers) + [('Content-Length', '0')]
                return start_response(status, headers, exc_info)
            return app(env, start)
        return middleware
    return wrap
sys.modules['ftpsd_swift_head'] = types.ModuleType('ftpsd_swift_head')
sys.modules['ftpsd_swift_head'].filter_factory = head_length_filter
import time as _time
import swift.common.middleware.memcache
swift.common.middleware.memcache.MemcacheRing = DictCache
libc = ctypes.CDLL(None, use_errno=True)
children = {}
me = os.getpid()
for name in ('account', 'container', 'object', 'proxy'):
    pid = os.fork()
    if pid == 0:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with this watchdog
        if os.getppid() != me:
            os._exit(1)
        try:
            code = run_wsgi(os.path.join(d, name + '-server.conf'), name + '-server')
        except BaseException as e:
            print('swift-%s-server: %r' % (name, e), file=sys.stderr, flush=True)
            code = 1
        os._exit(code or 0)
    children[pid] = name
def stop(*_, orphaned=False):
    for pid in children:
        for kill in (os.killpg, os.kill):  # each server is its own session (setsid), with its workers
            try:
                kill(pid, signal.SIGTERM)
            except OSError:
                pass
    deadline = time.time() + 3
    while children and time.time() < deadline:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.05)
        else:
            children.pop(pid, None)
    for pid in children:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if orphaned:
        shutil.rmtree(d, ignore_errors=True)  # nobody else will
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
print('started', flush=True)
# The watchdog: when the parent (the test process) is gone, even by SIGKILL, the servers go too.
while True:
    if os.getppid() != parent:
        stop(orphaned=True)
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid != 0:
        print('swift-%s-server exited (%d)' % (children.pop(pid, '?'), status), file=sys.stderr, flush=True)
        stop()
    time.sleep(0.2)
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
pipeline = head_length catch_errors gatekeeper healthcheck cache s3api tempauth copy slo dlo proxy-server

[app:proxy-server]
conn_timeout = 5
node_timeout = 30
use = egg:swift#proxy
account_autocreate = true

[filter:head_length]
use = call:ftpsd_swift_head:filter_factory

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:1
# (the launcher replaces the memcache client with an in-process cache)

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
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts Swift (proxy with s3api, account, container, object servers) in a temp dir on free ports. */
export async function startSwift(): Promise<SwiftService> {
  const parent = process.env.FTPSD_SWIFT_DIR ?? '/var/tmp';
  const dir = await mkdtemp(join(parent, 'ftpsd-swift-'));
  let launcher: ChildProcess | undefined;
  let log = '';
  let exited: string | undefined;
  const stop = async (): Promise<void> => {
    const child = launcher;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        // The launcher stops the servers (SIGTERM, then SIGKILL after 3 s); SIGKILL it if it hangs.
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [proxy, account, container, object] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const ports = { account: account!, container: container!, object: object! };
    await mkdir(join(dir, 'devices', 'sdb1'), { recursive: true });
    await Promise.all([
      ...SERVERS.map((kind) => writeFile(join(dir, `${kind}-server.conf`), serverConf(dir, ports[kind], kind))),
      writeFile(join(dir, 'proxy-server.conf'), proxyConf(dir, proxy!)),
    ]);
    const child = spawn(PYTHON, ['-c', LAUNCHER, dir, join(dir, 'devices'), String(process.pid), JSON.stringify(ports)], { stdio: ['ignore', 'pipe', 'pipe'] });
    launcher = child;
    const keep = (d: Buffer): void => {
      if (log.length < 200_000) log += d.toString();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('error', (err) => (exited ??= `swift launcher: ${err.message}`));
    child.on('exit', (code, signal) => (exited ??= `swift launcher exited (${code ?? signal}): ${log.slice(-2000)}`));
    await Promise.all([proxy!, account!, container!, object!].map((port) => waitHealthy(`http://127.0.0.1:${port}/healthcheck`, 30_000, () => exited))).catch((err: Error) => {
      throw new Error(`${err.message}; swift's output: ${log.slice(-2000)}`);
    });
    return {
      endpoint: `http://127.0.0.1:${proxy}`,
      region: 'us-east-1',
      accessKeyId: 'test:tester',
      secretAccessKey: 'testing',
      dir,
      pid: child.pid!,
      output: () => log,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
