/**
 * Running ftpsd as a service: the systemd unit (deploy/ftpsd.service: checked by systemd-analyze when it
 * is installed, and for the keys it must have), the container file (deploy/Containerfile: its stages and
 * its health check, run against a real ftpsd), and the switch to an unprivileged user after binding a
 * port below 1024 (as root only: skipped otherwise).
 */
import { parse } from 'yaml';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { curl } from '../e2e/clients.js';
import { expectSuccess, run } from '../e2e/helpers.js';
import { ChildServer, killChildren, removeTempDirs, REPO, tempDir } from '../hardening/child-server.js';
import { freeLowPort, freePort } from './service-helpers.js';

afterEach(killChildren);
afterAll(removeTempDirs);

type Unit = Record<string, Record<string, string[]>>;

/** A systemd unit file as section -> key -> values (a key may repeat). */
function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not KEY=VALUE: ${line}`);
    ((unit[section] ??= {})[line.slice(0, eq)] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

describe('deploy/ftpsd.service', () => {
  const path = join(REPO, 'deploy', 'ftpsd.service');
  const text = readFileSync(path, 'utf8');
  const unit = parseUnit(text);
  const service = unit.Service!;
  const one = (key: string) => {
    expect(service[key], key).toHaveLength(1);
    return service[key]![0]!;
  };

  it('reloads with SIGHUP, restarts on failure, runs the config from /etc/ftpsd as user ftpsd', () => {
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('Restart')).toBe('on-failure');
    expect(one('ExecStart')).toMatch(/ftpsd serve --config \/etc\/ftpsd\/ftpsd\.yaml$/);
    expect(one('User')).toBe('ftpsd');
    expect(one('KillSignal')).toBe('SIGTERM');
    expect(unit.Install?.WantedBy).toEqual(['multi-user.target']);
  });

  it('is hardened: low ports by capability only, read-only system, its own paths writable', () => {
    expect(one('AmbientCapabilities')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('CapabilityBoundingSet')).toBe('CAP_NET_BIND_SERVICE');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('ProtectHome')).toBe('yes');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('ReadWritePaths').split(/\s+/)).toEqual(expect.arrayContaining(['/srv/ftp', '/var/lib/ftpsd', '/var/log/ftpsd']));
    expect(one('LogsDirectory')).toBe('ftpsd');
    // Installed the documented way: from a packed tarball (the package is not on a registry).
    expect(text).toMatch(/npm pack && npm install -g \.\/ftpsd-[\d.]+\.tgz/);
    expect(text).not.toMatch(/npm install -g ftpsd\b/);
    expect(one('RestrictAddressFamilies').split(/\s+/)).toEqual(expect.arrayContaining(['AF_INET', 'AF_INET6']));
    expect(service.SystemCallFilter).toContain('@system-service');
    // Node's JIT writes code: W^X memory would kill it at start.
    expect(service.MemoryDenyWriteExecute ?? ['no']).toEqual(['no']);
    // The state directory systemd creates is the one ftpsd is told about.
    expect(one('StateDirectory')).toBe('ftpsd');
    expect(service.Environment).toContain('FTPSD_STATE_DIR=/var/lib/ftpsd');
  });

  it.skipIf(!has('systemd-analyze'))('systemd-analyze finds nothing wrong, and rates its exposure OK', async () => {
    // verify checks that ExecStart exists: point it at an executable that does.
    const dir = await mkdtemp(join(tmpdir(), 'ftpsd-unit-'));
    try {
      const copy = join(dir, 'ftpsd.service');
      await writeFile(copy, readFileSync(path, 'utf8').replace('/usr/local/bin/ftpsd', process.execPath));
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', copy], { encoding: 'utf8' });
      expect(verify.status, verify.stderr).toBe(0);
      expect(verify.stderr.split('\n').filter((l) => l.includes('ftpsd.service')), verify.stderr).toEqual([]);
      const security = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', copy], { encoding: 'utf8' });
      const m = /Overall exposure level for ftpsd\.service: ([\d.]+)/.exec(security.stdout + security.stderr);
      if (m) expect(Number(m[1])).toBeLessThanOrEqual(3);
      else console.warn(`systemd-analyze security --offline unavailable: ${security.stderr.trim()}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('deploy/Containerfile', () => {
  const text = readFileSync(join(REPO, 'deploy', 'Containerfile'), 'utf8');
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const of = (word: string) => instructions.filter((l) => l.split(/\s+/)[0] === word).map((l) => l.slice(word.length).trim());

  it('builds with the dev dependencies and ships without them, as a user that is not root', () => {
    expect(of('FROM')).toEqual(['node:20-slim AS build', 'node:20-slim']);
    const runs = of('RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm run build && npm prune --omit=dev/);
    const user = of('USER');
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)$/);
    expect(of('EXPOSE')[0]!.split(/\s+/)).toEqual(expect.arrayContaining(['2121', '2990']));
    expect(of('HEALTHCHECK')).toHaveLength(1);
    expect(of('ENTRYPOINT')).toEqual(['["node", "/app/dist/cli/main.js"]']);
  });

  it('has a .dockerignore that keeps the state dir (private key), node_modules and builds out of the context, but not what COPY needs', () => {
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['.ftpsd', 'node_modules', 'dist', '.git', 'ftp-root']));
    for (const copy of of('COPY').filter((c) => !c.startsWith('--from'))) {
      for (const source of copy.split(/\s+/).slice(0, -1)) expect(ignored.filter((i) => source === i || source.startsWith(`${i}/`)), source).toEqual([]);
    }
  });

  it('has a compose example that builds it, publishes its passive range and runs the same health check', () => {
    const compose = parse(readFileSync(join(REPO, 'deploy', 'compose.yaml'), 'utf8')) as {
      services: { ftpsd: { build: { context: string; dockerfile: string }; ports: string[]; healthcheck: { test: string[] } } };
    };
    const svc = compose.services.ftpsd;
    expect(existsSync(join(REPO, 'deploy', svc.build.context, svc.build.dockerfile))).toBe(true);
    const pasv = /FTPSD_PASV_PORTS=(\d+-\d+)/.exec(text)![1]!;
    expect(svc.ports).toContain(`${pasv}:${pasv}`);
    expect(svc.healthcheck.test).toEqual(['CMD', ...(JSON.parse(/CMD (\[.*\])/.exec(of('HEALTHCHECK')[0]!)![1]!) as string[])]);
  });

  it('copies only what exists in the repository', () => {
    for (const copy of of('COPY').filter((c) => !c.startsWith('--from'))) {
      const sources = copy.split(/\s+/).slice(0, -1);
      for (const s of sources) expect(existsSync(join(REPO, s)), s).toBe(true);
    }
  });

  it('its health check passes against a running ftpsd (metrics endpoint, or the FTP port) and fails without one', async () => {
    const dir = await tempDir('ftpsd-health-');
    const metrics = await freePort();
    const ftpd = await ChildServer.start([
      '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'root'), '--state-dir', join(dir, 'state'),
      '--user', 'u:p', '--metrics-listen', `127.0.0.1:${metrics}`,
    ]);
    const check = (env: Record<string, string>) => run(process.execPath, [join(REPO, 'deploy', 'healthcheck.mjs')], { env: { PATH: process.env.PATH ?? '', ...env }, timeoutMs: 20_000 });
    expect((await check({ FTPSD_METRICS_LISTEN: `:${metrics}` })).code).toBe(0);
    expect((await check({ FTPSD_LISTEN: `127.0.0.1:${ftpd.port()}` })).code).toBe(0);
    await ftpd.stop();
    const down = await check({ FTPSD_METRICS_LISTEN: `:${metrics}` });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^unhealthy: /);
  });
});

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn('runAs tests skipped: they need root (to bind a port below 1024 and switch users)');

/** uid and gid of a user from /etc/passwd. */
function passwdEntry(name: string): { uid: number; gid: number } | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

describe.skipIf(!isRoot)('runAs: switching to an unprivileged user after binding', () => {
  it('binds a port below 1024 as root, then runs as nobody: uploads belong to nobody', async () => {
    const nobody = passwdEntry('nobody');
    if (!nobody) throw new Error('no user "nobody" in /etc/passwd');
    const dir = await tempDir('ftpsd-runas-');
    await chmod(dir, 0o755); // mkdtemp makes it 0700: nobody could not reach the served directory inside
    const port = await freeLowPort();
    const root = join(dir, 'served'); // created by ftpsd (as root), then handed to nobody
    const ftpd = await ChildServer.start([
      '--listen', `127.0.0.1:${port}`, '--implicit-listen', 'off', '--root', root, '--state-dir', join(dir, 'state'),
      '--user', 'u:p', '--tls-required', 'off', '--run-as-user', 'nobody',
    ]);
    expect(ftpd.port()).toBe(port);
    const status = readFileSync(`/proc/${ftpd.pid}/status`, 'utf8');
    const ids = (field: string) => /^(\w+):\s+(.*)$/m.exec(status.split('\n').find((l) => l.startsWith(`${field}:`)) ?? '')?.[2]!.split(/\s+/).map(Number);
    expect(ids('Uid')).toEqual([nobody.uid, nobody.uid, nobody.uid, nobody.uid]);
    expect(ids('Gid')).toEqual([nobody.gid, nobody.gid, nobody.gid, nobody.gid]);
    expect(/^CapEff:\s+0+$/m.test(status)).toBe(true);
    await ftpd.waitForLog((l) => l.msg === 'running as an unprivileged user' && l.uid === nobody.uid);
    expect(statSync(root).uid).toBe(nobody.uid);

    const local = join(dir, 'up.txt');
    await writeFile(local, 'uploaded as nobody\n');
    expectSuccess(await curl(['--noproxy', '*', '-u', 'u:p', '-T', local, `ftp://127.0.0.1:${port}/up.txt`]));
    expect(await readFile(join(root, 'up.txt'), 'utf8')).toBe('uploaded as nobody\n');
    expect(statSync(join(root, 'up.txt')).uid).toBe(nobody.uid);
    expect((await ftpd.stop()).code).toBe(0);
    expect(ftpd.crash).toBeUndefined();
  });

  it('an unknown user is a config error before anything is bound', async () => {
    const dir = await tempDir('ftpsd-runas-');
    const r = await run(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), '--listen', '127.0.0.1:0', '--root', join(dir, 'r'), '--run-as-user', 'ftpsd-nobody-here'], { cwd: REPO });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('error: runAs: no such user "ftpsd-nobody-here"');
  });
});
