/**
 * Crash recovery (issue 20, items 5 and 6), with the real command as a child process:
 *  - SIGKILL of the server mid-upload: the temp files (`.ftpsd-upload-*`) it leaves are removed at the
 *    next start, which logs how many and their bytes; an overwritten file keeps its old content;
 *  - SIGKILL of a cluster worker mid-upload: its replacement removes them, and the uploads the other
 *    worker runs meanwhile are not touched (they complete);
 *  - a stopped worker (SIGSTOP): the primary's heartbeat notices, kills and replaces it, and new
 *    connections are served within a bounded time.
 */
import { readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-client.js';
import { ChildServer, killChildren, tempDir } from './child-server.js';
import { cleanUpChildren, sleep } from './crash-helpers.js';
import { within } from './tls-helpers.js';

cleanUpChildren();
afterEach(killChildren);

const USER = 'alice';
const PASS = 'secret';
const OLD = Buffer.alloc(300 * 1024, 0x4f); // "O": the content an interrupted overwrite must keep

interface Setup {
  dir: string;
  root: string;
  state: string;
  args: (level?: string) => string[];
}

async function setup(config: string[] = []): Promise<Setup> {
  const dir = await tempDir('ftpsd-recovery-');
  const root = join(dir, 'root');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'old.bin'), OLD);
  await writeFile(join(root, 'app.bin'), OLD);
  await writeFile(join(root, 'rest.bin'), OLD);
  await writeFile(join(dir, 'ftpsd.yaml'), ['limits:', '  loginFailureDelayMs: 10', ...config, ''].join('\n'));
  const state = join(dir, 'state');
  const args = (level = 'warn') => [
    '--config', join(dir, 'ftpsd.yaml'),
    '--listen', '127.0.0.1:0', '--implicit-listen', 'off',
    '--root', root, '--state-dir', state,
    '--user', `${USER}:${PASS}`, '--tls-required', 'off', '--log-level', level,
  ];
  return { dir, root, state, args };
}

/** Every `.ftpsd-upload-*` file under `root`, with its size (the test may walk; the server never does). */
function tempFiles(root: string): { path: string; size: number }[] {
  const out: { path: string; size: number }[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.startsWith('.ftpsd-upload-')) out.push({ path: p, size: statSync(p).size });
    }
  };
  walk(root);
  return out;
}

async function eventually<T>(check: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(USER, PASS);
  await c.expectCmd('TYPE I', 200);
  return c;
}

/** Starts `STOR name` (or APPE, or REST + STOR) and sends `bytes` bytes without ending the data connection. */
async function startUpload(c: RawClient, name: string, bytes: number, how: 'STOR' | 'APPE' | { rest: number } = 'STOR'): Promise<Socket> {
  const data = await c.epsv();
  if (typeof how === 'object') await c.expectCmd(`REST ${how.rest}`, 350);
  c.send(`${how === 'APPE' ? 'APPE' : 'STOR'} ${name}`);
  await c.expect(150);
  await new Promise<void>((r) => data.write(Buffer.alloc(bytes, 0x4e), () => r()));
  return data;
}

describe('temp files left by a crash are removed at the next start', () => {
  it('SIGKILL of the server mid-upload: the restart removes them (logged with count and bytes); an overwritten file keeps its content', async () => {
    const s = await setup();
    const first = await ChildServer.start(s.args());
    const port = first.port();
    const a = await client(port);
    const b = await client(port);
    const c = await client(port);
    const d = await client(port);
    const e = await client(port);
    await startUpload(a, 'old.bin', 200 * 1024); // an overwrite
    await startUpload(b, 'new.bin', 100 * 1024); // a new file
    await startUpload(c, 'sub/deep.bin', 50 * 1024);
    // Written in place, not through temp files: what arrived stays (the crash rows of the upload table).
    await startUpload(d, 'app.bin', 100 * 1024, 'APPE');
    await startUpload(e, 'rest.bin', 100 * 1024, { rest: OLD.length - 1000 });
    const left = await eventually(() => {
      const t = tempFiles(s.root);
      return t.length === 3 && t.reduce((n, f) => n + f.size, 0) === 350 * 1024 && t;
    }, 'three temp files with every byte sent');
    await eventually(() => statSync(join(s.root, 'app.bin')).size === OLD.length + 100 * 1024 && statSync(join(s.root, 'rest.bin')).size === OLD.length - 1000 + 100 * 1024, 'APPE and REST data on disk');
    first.signal('SIGKILL');
    await first.exited;
    for (const x of [a, b, c, d, e]) x.close();
    // The leak, as it was: the files are there after the crash.
    expect(tempFiles(s.root)).toHaveLength(3);

    const second = await ChildServer.start(s.args());
    const line = await second.waitForLog((l) => l.msg === 'removed leftover upload temp files');
    expect(line).toMatchObject({ level: 40, files: 3, bytes: left.reduce((n, f) => n + f.size, 0), missing: 0, refused: 0, journals: 1 });
    expect(tempFiles(s.root)).toEqual([]);
    expect((await readFile(join(s.root, 'old.bin'))).equals(OLD)).toBe(true);
    expect(await readdir(s.root)).toEqual(expect.not.arrayContaining(['new.bin']));
    expect(await readdir(join(s.root, 'sub'))).toEqual([]);
    const sent = Buffer.alloc(100 * 1024, 0x4e);
    expect((await readFile(join(s.root, 'app.bin'))).equals(Buffer.concat([OLD, sent]))).toBe(true);
    expect((await readFile(join(s.root, 'rest.bin'))).equals(Buffer.concat([OLD.subarray(0, OLD.length - 1000), sent]))).toBe(true);
    // One journal now: the running server's own.
    expect((await readdir(join(s.state, 'upload-journals'))).filter((n) => n.endsWith('.journal'))).toHaveLength(1);

    // A clean stop leaves no journal behind, and the next start has nothing to report.
    expect(await within(second.stop('SIGTERM'), 20_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(await readdir(join(s.state, 'upload-journals'))).toEqual([]);
    const third = await ChildServer.start(s.args());
    const c3 = await client(third.port());
    c3.close();
    expect(third.logs().filter((l) => l.msg === 'removed leftover upload temp files')).toEqual([]);
    expect(await within(third.stop('SIGTERM'), 20_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(second.crash ?? third.crash).toBeUndefined();
  });

  it('SIGKILL of a cluster worker mid-upload: its replacement removes its temp files; the other worker\'s upload goes on', async () => {
    const s = await setup();
    const srv = await ChildServer.start(s.args('info'), { FTPSD_WORKERS: '2' });
    const port = srv.port();
    // Sessions until both workers hold one (the primary hands connections out in turn).
    const byPid = new Map<number, RawClient>();
    const extra: RawClient[] = [];
    for (let i = 0; i < 8 && byPid.size < 2; i++) {
      const c = await client(port);
      const logins = await eventually(() => {
        const all = srv.logs().filter((l) => l.msg === 'login');
        return all.length > i && all;
      }, 'the login line');
      const pid = logins[i]!.pid as number;
      if (byPid.has(pid)) extra.push(c);
      else byPid.set(pid, c);
    }
    expect(byPid.size).toBe(2);
    const [[victimPid, victim], [otherPid, other]] = [...byPid.entries()] as [[number, RawClient], [number, RawClient]];
    await startUpload(victim, 'old.bin', 128 * 1024);
    const survivor = await startUpload(other, 'sub/survivor.bin', 64 * 1024);
    await eventually(() => tempFiles(s.root).length === 2 && tempFiles(s.root).every((f) => f.size > 0), 'two temp files');
    const victimTemp = tempFiles(s.root).find((f) => !f.path.includes('/sub/'))!;
    await eventually(() => statSync(victimTemp.path).size === 128 * 1024, 'every byte on disk');

    process.kill(victimPid, 'SIGKILL');
    const replaced = await srv.waitForLog((l) => l.msg === 'worker replaced', 30_000);
    const line = await srv.waitForLog((l) => l.msg === 'removed leftover upload temp files');
    expect(line).toMatchObject({ files: 1, bytes: 128 * 1024, pid: replaced.workerPid });
    // The other worker's upload was not touched: it completes.
    await new Promise<void>((r) => survivor.end(Buffer.alloc(1000, 0x4e), () => r()));
    await other.expect(226);
    expect((await readFile(join(s.root, 'sub', 'survivor.bin'))).length).toBe(64 * 1024 + 1000);
    expect(tempFiles(s.root)).toEqual([]);
    expect((await readFile(join(s.root, 'old.bin'))).equals(OLD)).toBe(true);
    expect(otherPid).not.toBe(victimPid);
    for (const c of [victim, other, ...extra]) c.close();
    expect(await within(srv.stop('SIGTERM'), 30_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(srv.crash).toBeUndefined();
  });
});

/**
 * Opens a control connection: the greeting line, `closed` (closed without one), or `hung` after `ms`;
 * with the time it took.
 */
function greeting(port: number, ms: number): Promise<{ line: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = netConnect({ port, host: '127.0.0.1' });
    let text = '';
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ line: v ?? 'closed', ms: Date.now() - started });
    };
    const timer = setTimeout(() => done('hung'), ms);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      if (text.includes('\r\n')) done(text.split('\r\n')[0]);
    });
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
  });
}

describe('the heartbeat replaces a worker that stops answering', () => {
  it('SIGSTOP of a worker: killed and replaced within the timeout; new connections are served within a bounded time', async () => {
    const s = await setup(['workerHeartbeat:', '  intervalMs: 200', '  timeoutMs: 2000']);
    const srv = await ChildServer.start(s.args('info'), { FTPSD_WORKERS: '2' });
    const port = srv.port();
    const pids = (srv.logs().find((l) => l.msg === 'cluster ready')!.workerPids as number[]).slice();
    expect(pids).toHaveLength(2);
    process.kill(pids[0]!, 'SIGSTOP');
    const stoppedAt = Date.now();
    // Connections made while it is stopped: the other worker serves them at once, but for the one the
    // primary handed to the stopped worker, which is closed when that worker is killed (never left hanging).
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => sleep(i * 100).then(() => greeting(port, 15_000))));
    const served = results.filter((r) => r.line.startsWith('220 '));
    expect(served.length, JSON.stringify(results)).toBeGreaterThanOrEqual(5);
    for (const r of served) expect(r.ms).toBeLessThan(1000);
    for (const r of results.filter((x) => !x.line.startsWith('220 '))) {
      expect(r.line).toBe('closed');
      expect(r.ms).toBeLessThan(2000 + 2000);
    }
    const silent = await srv.waitForLog((l) => l.msg === 'worker not responding; replacing it', 10_000);
    expect(silent).toMatchObject({ level: 50, worker: 1, workerPid: pids[0], timeoutMs: 2000 });
    const replaced = await srv.waitForLog((l) => l.msg === 'worker replaced', 20_000);
    expect(replaced.workerPid).not.toBe(pids[0]);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(() => process.kill(pids[0]!, 0)).toThrow(/ESRCH/);
    // From now on every new connection is served at once.
    for (let i = 0; i < 6; i++) expect((await greeting(port, 5000)).line).toMatch(/^220 /);
    expect(await within(srv.stop('SIGTERM'), 30_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(srv.crash).toBeUndefined();
  });
});
