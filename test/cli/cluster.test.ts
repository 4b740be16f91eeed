/**
 * Cluster mode (`ftpsd serve --workers N`), with the real command on loopback and real clients: sessions
 * spread over the workers, passive ports in disjoint slices (so every data connection reaches the worker
 * owning its session), bans and session caps across workers, SIGHUP, SIGTERM, a killed worker replaced,
 * metrics summed over the workers, and start-up errors reported as by a single process.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Client, enterPassiveModeIPv4, enterPassiveModeIPv6, type FTPContext } from 'basic-ftp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { Served, assertBuilt, curl, killAll, listExplicit, loopbackArgs, removeTempDirs, run, tempDir, logLines } from './cli.js';
import { until } from '../helpers/poll.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

const HASH_PASSWORD = 'bob-pw';
let HASH = '';
beforeAll(async () => {
  HASH = await hashPassword(HASH_PASSWORD);
});


/** The first line a raw TCP client reads from the control port. */
function firstLine(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) {
        s.destroy();
        resolve(text.split('\r\n')[0]!);
      }
    });
    s.on('error', reject);
    s.on('close', () => resolve(text.split('\r\n')[0]!));
  });
}

/** A logged-in basic-ftp client over explicit FTPS (PROT P; data connections resume the TLS session). */
async function login(port: number, user: string, password: string): Promise<Client> {
  const client = new Client(20_000);
  await client.access({ host: '127.0.0.1', port, user, password, secure: true, secureOptions: { rejectUnauthorized: false } });
  return client;
}

/** A random block of 40 ports below the ephemeral range. */
function portBlock(): { min: number; max: number } {
  const min = 20_000 + Math.floor(Math.random() * 200) * 50;
  return { min, max: min + 39 };
}

describe('ftpsd serve --workers 2', () => {
  it('spreads sessions over both workers; PASV and EPSV with PROT P work for every session; passive ports in disjoint slices', async () => {
    const dir = await tempDir();
    const range = portBlock();
    const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
    const ftpd = await Served.start([
      ...loopbackArgs(dir),
      '--workers', '2',
      '--pasv-ports', `${range.min}-${range.max}`,
      ...[...users, 'c'].flatMap((u) => ['--user', `${u}:pw-${u}`]),
    ]);
    expect(ftpd.stdout.match(/^listening: explicit FTPS on /gm)).toHaveLength(1);
    expect(ftpd.stdout).toMatch(/^workers: +2 processes/m);

    const ports = new Map<string, number[]>();
    await Promise.all(
      users.map(async (user, i) => {
        const client = await login(ftpd.port, user, `pw-${user}`);
        try {
          // Half the sessions use PASV, the others EPSV.
          const prepare = i % 2 === 0 ? enterPassiveModeIPv4 : enterPassiveModeIPv6;
          client.prepareTransfer = async (ftp: FTPContext) => {
            const r = await prepare(ftp);
            ports.set(user, [...(ports.get(user) ?? []), ftp.dataSocket!.remotePort!]);
            return r;
          };
          const content = `data of ${user}\n`.repeat(1000);
          await client.uploadFrom(Readable.from([content]), `${user}.txt`);
          const sink = new PassThrough();
          const chunks: Buffer[] = [];
          sink.on('data', (c: Buffer) => chunks.push(c));
          await client.downloadTo(sink, `${user}.txt`);
          expect(Buffer.concat(chunks).toString()).toBe(content);
          const list = await client.list();
          expect(list.map((f) => f.name)).toContain(`${user}.txt`);
        } finally {
          client.close();
        }
      }),
    );
    // Which worker served each user's session (before curl logs in more sessions below).
    const logs = logLines(ftpd.stdout);
    const pidOf = new Map(logs.filter((l) => l.msg === 'login' && l.user?.startsWith('u')).map((l) => [l.user!, l.pid!]));
    expect(pidOf.size).toBe(users.length);

    // curl, EPSV and PASV (--disable-epsv), PROT P, in parallel.
    await writeFile(join(dir, 'root', 'shared.txt'), 'shared\n');
    const downloads = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        curl(['--ssl-reqd', '-k', ...(i % 2 ? ['--disable-epsv'] : []), '-u', 'c:pw-c', `ftp://127.0.0.1:${ftpd.port}/shared.txt`]),
      ),
    );
    for (const d of downloads) expect(d).toMatchObject({ code: 0, stdout: 'shared\n' });

    expect(new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'login' && l.user === 'c').map((l) => l.pid)).size).toBe(2);
    const ready = logs.find((l) => l.msg === 'cluster ready');
    expect(ready?.workerPids).toHaveLength(2);
    const byPid = new Map<number, number[]>();
    for (const user of users) {
      const pid = pidOf.get(user);
      expect(ready?.workerPids, user).toContain(pid);
      byPid.set(pid!, [...(byPid.get(pid!) ?? []), ...(ports.get(user) ?? [])]);
      expect(ports.get(user)?.length, user).toBe(3); // upload, download, list
    }
    // Both workers served sessions, and each one's passive ports lie in its own half of the range.
    expect(byPid.size).toBe(2);
    const halves = [...byPid.values()].map((list) => {
      const lower = list.every((p) => p >= range.min && p <= range.min + 19);
      const upper = list.every((p) => p >= range.min + 20 && p <= range.max);
      expect(lower || upper, `ports ${list.join(',')}`).toBe(true);
      return lower ? 'lower' : 'upper';
    });
    expect(new Set(halves).size).toBe(2);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('a ban earned through one worker refuses the next connections on every worker', async () => {
    const dir = await tempDir();
    const config = join(dir, 'ftpsd.yaml');
    await writeFile(config, 'workers: 2\nsecurity:\n  ban:\n    failures: 3\nlimits:\n  loginFailureDelayMs: 10\n');
    // The worker count comes from the file here.
    const ftpd = await Served.start([...loopbackArgs(dir), '--config', config, '--user', 'alice:right'], { defaultWorkers: true });
    expect(ftpd.stdout).toMatch(/^workers: +2 processes/m);
    // Three failures, one connection each: the cluster hands them to both workers.
    for (let i = 0; i < 3; i++) expect((await listExplicit(ftpd.port, 'alice', 'wrong')).code).toBe(67);
    const failedOn = new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'login failed').map((l) => l.pid));
    expect(failedOn.size).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 6; i++) expect(await firstLine(ftpd.port)).toBe('421 Too many failed logins from your address; try again later.');
    // Even the right password is refused now.
    expect((await listExplicit(ftpd.port, 'alice', 'right')).code).not.toBe(0);
    const refusedOn = new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'connection refused' && l.reason === 'banned').map((l) => l.pid));
    expect(refusedOn.size).toBe(2);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('enforces the global and per-user session caps across workers', async () => {
    const dir = await tempDir();
    const config = join(dir, 'ftpsd.yaml');
    await writeFile(config, 'limits:\n  maxSessions: 3\n  maxSessionsPerUser: 2\n');
    const ftpd = await Served.start([...loopbackArgs(dir), '--config', config, '--user', 'alice:pw', '--user', 'bob:pw', '--user', 'carol:pw', '--workers', '2']);
    // Two sessions of bob, one on each worker: a third login of bob is refused wherever it lands.
    const bobs = [await login(ftpd.port, 'bob', 'pw'), await login(ftpd.port, 'bob', 'pw')];
    expect(new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'login' && l.user === 'bob').map((l) => l.pid)).size).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 4; i++) expect((await listExplicit(ftpd.port, 'bob', 'pw')).code).not.toBe(0);
    const capped = logLines(ftpd.stdout).filter((l) => l.msg === 'login refused: too many sessions for this user');
    expect(new Set(capped.map((l) => l.pid)).size).toBe(2);
    for (const c of bobs) c.close();
    await new Promise((r) => setTimeout(r, 300));

    const held = [];
    for (const user of ['alice', 'carol', 'alice']) held.push(await login(ftpd.port, user, 'pw'));
    // Held on both workers: neither has 3 sessions of its own.
    const holders = logLines(ftpd.stdout).filter((l) => l.msg === 'login' && l.user !== 'bob').map((l) => l.pid);
    expect(new Set(holders).size).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 4; i++) expect(await firstLine(ftpd.port)).toBe('421 Too many sessions on this server (maxSessions); try again later.');
    const refusedOn = new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'connection refused' && l.reason === 'server-full').map((l) => l.pid));
    expect(refusedOn.size).toBe(2);
    // A session that ends frees its place for either worker.
    held.pop()!.close();
    await new Promise((r) => setTimeout(r, 300));
    const again = await login(ftpd.port, 'carol', 'pw');
    again.close();
    for (const c of held) c.close();
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('SIGHUP reloads the config in every worker', async () => {
    const dir = await tempDir();
    const config = join(dir, 'ftpsd.yaml');
    await writeFile(config, `users:\n  - {name: alice, password: "${HASH}"}\n`);
    const ftpd = await Served.start([...loopbackArgs(dir), '--config', config, '--workers', '2']);
    expect((await listExplicit(ftpd.port, 'bob', HASH_PASSWORD)).code).toBe(67);
    await writeFile(config, `users:\n  - {name: alice, password: "${HASH}"}\n  - {name: bob, password: "${HASH}"}\n`);
    ftpd.child.kill('SIGHUP');
    await until(() => new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'config reloaded').map((l) => l.pid)).size === 2, 'both workers reloaded');
    for (let i = 0; i < 4; i++) expect((await listExplicit(ftpd.port, 'bob', HASH_PASSWORD)).code).toBe(0);
    const bobOn = new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'login' && l.user === 'bob').map((l) => l.pid));
    expect(bobOn.size).toBe(2);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('replaces a killed worker; SIGTERM stops every process with code 0', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start([...loopbackArgs(dir), '--user', 'alice:pw', '--workers', '2']);
    const pids = logLines(ftpd.stdout).find((l) => l.msg === 'cluster ready')!.workerPids!;
    expect(pids).toHaveLength(2);
    process.kill(pids[0]!, 'SIGKILL');
    await until(() => logLines(ftpd.stdout).some((l) => l.msg === 'worker replaced'), 'the replacement');
    const exited = logLines(ftpd.stdout).find((l) => l.msg === 'worker exited; starting a new one');
    expect(exited).toMatchObject({ worker: 1, workerPid: pids[0], signal: 'SIGKILL' });
    const replacement = logLines(ftpd.stdout).find((l) => l.msg === 'worker replaced')!.workerPid as number;
    expect(pids).not.toContain(replacement);
    for (let i = 0; i < 4; i++) expect((await listExplicit(ftpd.port, 'alice', 'pw')).code).toBe(0);
    const end = await ftpd.stop('SIGTERM');
    expect(end.code).toBe(0);
    for (const pid of [pids[1]!, replacement]) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });

  it('serves /metrics summed over the workers', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start([...loopbackArgs(dir), '--user', 'alice:pw', '--workers', '2', '--metrics-listen', '127.0.0.1:0']);
    const url = /^metrics: +(\S+)$/m.exec(ftpd.stdout)![1]!;
    for (let i = 0; i < 4; i++) expect((await listExplicit(ftpd.port, 'alice', 'pw')).code).toBe(0);
    expect(new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'login').map((l) => l.pid)).size).toBe(2);
    const text = await (await fetch(url)).text();
    expect(text).toMatch(/^ftpsd_sessions_total 4$/m);
    expect(text).toMatch(/^ftpsd_logins_total\{result="ok"\} 4$/m);
    expect(text).toMatch(/^ftpsd_up 1$/m);
    expect(await (await fetch(url.replace('/metrics', '/healthz'))).text()).toBe('ok\n');
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('--workers 1 is a single process: no children, no cluster lines', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start([...loopbackArgs(dir), '--user', 'alice:pw', '--workers', '1']);
    expect((await listExplicit(ftpd.port, 'alice', 'pw')).code).toBe(0);
    const children = await new Promise<string>((resolve) => execFile('pgrep', ['-P', String(ftpd.child.pid)], (_e, out) => resolve(out.trim())));
    expect(children).toBe('');
    expect(ftpd.stdout).not.toMatch(/^workers:/m);
    expect(logLines(ftpd.stdout).filter((l) => l.worker !== undefined || l.msg === 'cluster ready')).toEqual([]);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('reports bad settings before forking, as a single process does (one line, exit code 2)', async () => {
    const dir = await tempDir();
    const small = await run([...loopbackArgs(dir), '--workers', '2', '--pasv-ports', '40000-40000']);
    expect(small.code).toBe(2);
    expect(small.stderr).toBe('error: pasvPorts: has 1 port, fewer than the 2 workers (each needs its own ports); widen the range or lower workers\n');
    const zero = await run([...loopbackArgs(dir), '--workers', '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toBe('error: --workers: must be a whole number from 1 to 256, or auto\n');
    const env = await run(loopbackArgs(dir), { env: { FTPSD_WORKERS: 'many' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toBe('error: FTPSD_WORKERS: must be a whole number from 1 to 256, or auto\n');
    const missing = join(dir, 'missing.pem');
    const single = await run([...loopbackArgs(dir), '--workers', '1', '--cert', missing, '--key', missing]);
    const cluster = await run([...loopbackArgs(dir), '--workers', '2', '--cert', missing, '--key', missing]);
    expect(single.code).toBe(2);
    expect(cluster).toMatchObject({ code: 2, stderr: single.stderr, stdout: '' });
  });
});
