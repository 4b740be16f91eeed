/**
 * Workers on demand (`workers: auto`, the default; src/cluster/worker-scaler.ts), with the real command
 * (dist/: run `npm run build` first) and real clients on loopback: the default start runs one worker;
 * TLS handshakes from a client process load it until a second worker is added (up to the core count);
 * an added worker left idle is retired, and a connection the primary handed it just before is served to
 * its end (the worker is stopped with SIGSTOP so that a connection is in flight to it when the primary
 * decides); `--workers 2` starts both at once and retires neither. The idle time before retiring is
 * shortened through the test hook FTPSD_TEST_RETIRE_IDLE_MS. Waits are bounded; nothing is timed.
 */
import { spawn, type ChildProcess, execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { workerCount } from '../../src/config/cluster-schema.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/poll.js';
import { Served, assertBuilt, killAll, listExplicit, loopbackArgs, removeTempDirs, tempDir, logLines } from './cli.js';

const MAX = workerCount('auto');
const loads = new Set<ChildProcess>();
const stopped = new Set<number>();

beforeAll(assertBuilt);
afterEach(() => {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
  stopped.clear();
  for (const l of loads) l.kill('SIGKILL');
  loads.clear();
  killAll();
});
afterAll(removeTempDirs);


const has = (ftpd: Served, msg: string) => logLines(ftpd.stdout).some((l) => l.msg === msg);
const line = (ftpd: Served, msg: string) => logLines(ftpd.stdout).find((l) => l.msg === msg);

function children(pid: number): Promise<number[]> {
  return new Promise((resolve) => execFile('pgrep', ['-P', String(pid)], (_e, out) => resolve(out.trim().split('\n').filter(Boolean).map(Number))));
}

/** A client process opening implicit FTPS connections (handshake, greeting, close), 16 at a time, until killed. */
function tlsLoad(port: number): ChildProcess {
  const code = `const tls=require('tls');const one=()=>{const s=tls.connect({host:'127.0.0.1',port:${port},rejectUnauthorized:false},()=>s.once('data',()=>{s.destroy()}));s.on('error',()=>{});s.setTimeout(5000,()=>s.destroy());s.on('close',one)};for(let i=0;i<16;i++)one();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  loads.add(child);
  return child;
}

async function stopLoad(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  loads.delete(child);
}

describe.skipIf(MAX < 2)('workers on demand (workers: auto)', () => {
  it('starts one worker, adds one under load, retires the idle one without cutting the connection handed to it', { timeout: 180_000 }, async () => {
    const dir = await tempDir();
    const config = join(dir, 'ftpsd.yaml');
    // A long heartbeat timeout: the test stops a worker for a few seconds.
    await writeFile(config, 'workerHeartbeat:\n  timeoutMs: 60000\n');
    const ftpd = await Served.start([...loopbackArgs(dir), '--config', config, '--user', 'alice:pw'], { defaultWorkers: true, env: { FTPSD_TEST_RETIRE_IDLE_MS: '4000' } });
    expect(ftpd.stdout).toMatch(new RegExp(`^workers: +1 process, up to ${MAX} on demand`, 'm'));
    expect(line(ftpd, 'cluster ready')).toMatchObject({ workers: 1, maxWorkers: MAX });
    expect(await children(ftpd.child.pid!)).toHaveLength(1);
    // Idle: no worker is added.
    await sleep(2500);
    expect(has(ftpd, 'workers busy; adding a worker')).toBe(false);

    const load = tlsLoad(ftpd.banner.implicit[0]!.port);
    await until(() => has(ftpd, 'worker added'), 'a worker added under load', 90_000, 100);
    await stopLoad(load);
    const added = line(ftpd, 'worker added')!;
    expect(added.worker).toBe(2);
    expect(line(ftpd, 'workers busy; adding a worker')!.elu).toBeGreaterThan(0.5);
    const addedPid = added.workerPid!;
    expect(await children(ftpd.child.pid!)).toContain(addedPid);
    // Both serve (round robin); an added worker holding sessions is not retired.
    for (let i = 0; i < 4; i++) expect((await listExplicit(ftpd.port, 'alice', 'pw')).code).toBe(0);

    // Let the added worker report itself idle at least once, then stop it: connections the primary
    // hands it now wait in its channel, ahead of the disconnect the primary sends when it retires it.
    // (On a loaded host its last report may not have been an idle one yet: then let it go on and retry.)
    const decided = () => has(ftpd, 'worker idle; retiring it (it ends once its sessions do)');
    let clients: RawClient[] = [];
    for (let attempt = 1; ; attempt++) {
      await sleep(2800);
      expect(decided()).toBe(false);
      process.kill(addedPid, 'SIGSTOP');
      stopped.add(addedPid);
      clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.connect(ftpd.port, '127.0.0.1', { greeting: false })));
      const ok = await until(decided, 'the retire decision', 12_000, 100).then(
        () => true,
        () => false,
      );
      if (ok) break;
      expect(attempt).toBeLessThan(3);
      process.kill(addedPid, 'SIGCONT');
      for (const c of clients) {
        await c.expect(220);
        expect((await c.cmd('QUIT')).code).toBe(221);
      }
    }
    expect(line(ftpd, 'worker idle; retiring it (it ends once its sessions do)')).toMatchObject({ worker: 2, workerPid: addedPid });
    process.kill(addedPid, 'SIGCONT');
    stopped.delete(addedPid);
    // Every connection is served, the one the retiring worker took included.
    for (const c of clients) {
      await c.expect(220);
      expect((await c.cmd('NOOP')).code).toBe(200);
    }
    // The retiring worker took one of them (it was stopped until after the decision, so its line comes later).
    const lines = logLines(ftpd.stdout);
    const decidedAt = lines.findIndex((l) => l.msg === 'worker idle; retiring it (it ends once its sessions do)');
    expect(lines.slice(decidedAt).some((l) => l.msg === 'connect' && l.pid === addedPid)).toBe(true);
    // It ends only with its sessions.
    await sleep(500);
    expect(has(ftpd, 'worker retired')).toBe(false);
    for (const c of clients) expect((await c.cmd('NOOP')).code).toBe(200);
    for (const c of clients) expect((await c.cmd('QUIT')).code).toBe(221);
    await until(() => has(ftpd, 'worker retired'), 'the worker retired');
    expect(line(ftpd, 'retired by the primary; stopping once the sessions end')).toMatchObject({ pid: addedPid, sessions: 0 });
    expect(line(ftpd, 'worker retired')).toMatchObject({ worker: 2, workerPid: addedPid, code: 0 });
    expect(has(ftpd, 'worker exited; starting a new one')).toBe(false);
    await until(async () => (await children(ftpd.child.pid!)).length === 1, 'one worker left');
    // The remaining worker serves every new connection.
    for (let i = 0; i < 3; i++) expect((await listExplicit(ftpd.port, 'alice', 'pw')).code).toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('a worker started after a reload reads the config in force, not the one the primary checked at start', async () => {
    const dir = await tempDir();
    const config = join(dir, 'ftpsd.yaml');
    const hash = await hashPassword('pw2');
    await writeFile(config, `users:\n  - {name: alice, password: "${hash}"}\n`);
    const ftpd = await Served.start([...loopbackArgs(dir), '--config', config, '--workers', '2']);
    const pids = line(ftpd, 'cluster ready')!.workerPids!;
    expect((await listExplicit(ftpd.port, 'dave', 'pw2')).code).toBe(67);
    // A new user through the file: SIGHUP reloads every worker.
    await writeFile(config, `users:\n  - {name: alice, password: "${hash}"}\n  - {name: dave, password: "${hash}"}\n`);
    ftpd.child.kill('SIGHUP');
    await until(() => new Set(logLines(ftpd.stdout).filter((l) => l.msg === 'config reloaded').map((l) => l.pid)).size === 2, 'both workers reloaded');
    // The replacement of a killed worker knows the user too.
    process.kill(pids[0]!, 'SIGKILL');
    await until(() => has(ftpd, 'worker replaced'), 'the replacement');
    for (let i = 0; i < 4; i++) expect((await listExplicit(ftpd.port, 'dave', 'pw2')).code).toBe(0);
    const replacement = line(ftpd, 'worker replaced')!.workerPid!;
    expect(logLines(ftpd.stdout).some((l) => l.msg === 'login' && l.pid === replacement)).toBe(true);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('--workers 2 starts both at once and retires neither', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start([...loopbackArgs(dir), '--user', 'alice:pw', '--workers', '2'], { env: { FTPSD_TEST_RETIRE_IDLE_MS: '100' } });
    expect(ftpd.stdout).toMatch(/^workers: +2 processes \(/m);
    expect(line(ftpd, 'cluster ready')!.workerPids).toHaveLength(2);
    expect(await children(ftpd.child.pid!)).toHaveLength(2);
    await sleep(3000);
    expect(has(ftpd, 'worker idle; retiring it (it ends once its sessions do)')).toBe(false);
    expect(await children(ftpd.child.pid!)).toHaveLength(2);
    expect((await ftpd.stop()).code).toBe(0);
  });
});
