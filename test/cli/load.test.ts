/**
 * loadConfig in-process: defaults, precedence (flags > env > file > defaults), path resolution, users.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { DEFAULT_LIMITS } from '../../src/settings.js';
import { configFile, removeTempDirs } from './cli.js';

afterAll(removeTempDirs);

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4';

describe('loadConfig', () => {
  it('defaults: [::]:2121 explicit, [::]:2990 implicit, ./ftp-root, ./.ftpsd, user ftpsd with a random password', async () => {
    const c = await loadConfig({}, { env: {}, cwd: '/srv' });
    expect(c.listen).toEqual([{ host: '::', port: 2121 }]);
    expect(c.implicitListen).toEqual([{ host: '::', port: 2990 }]);
    expect(c.root).toBe('/srv/ftp-root');
    expect(c.stateDir).toBe('/srv/.ftpsd');
    expect(c.tlsRequired).toBe('login');
    expect(c.sessionReuse).toBe('require');
    expect(c.logLevel).toBe('info');
    expect(c.tls).toBeUndefined();
    expect(c.users).toEqual([{ name: 'ftpsd', password: { plain: c.generatedPassword }, home: '/srv/ftp-root', readOnly: false }]);
    expect(c.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(c.passwordFromEnv).toBe(false);
    const again = await loadConfig({}, { env: {}, cwd: '/srv' });
    expect(again.generatedPassword).not.toBe(c.generatedPassword);
  });

  it('flags override the environment, which overrides the file', async () => {
    const { dir, file } = await configFile(
      'root: data\nlisten: ["127.0.0.1:2121"]\ntlsRequired: all\nsessionReuse: allow\nlogLevel: warn\npasvPorts: 50000-50010\n',
    );
    const fileOnly = await loadConfig({ config: file }, { env: {}, cwd: dir });
    expect(fileOnly.root).toBe(join(dir, 'etc', 'data')); // relative to the file
    expect(fileOnly.listen).toEqual([{ host: '127.0.0.1', port: 2121 }]);
    expect(fileOnly.tlsRequired).toBe('all');
    expect(fileOnly.pasvPorts).toEqual({ min: 50000, max: 50010 });

    const env = { FTPSD_ROOT: 'env-root', FTPSD_LISTEN: '127.0.0.2:21,[::1]:21', FTPSD_TLS_REQUIRED: 'off', FTPSD_LOG_LEVEL: 'debug' };
    const withEnv = await loadConfig({ config: file }, { env, cwd: dir });
    expect(withEnv.root).toBe(join(dir, 'env-root')); // relative to the working directory
    expect(withEnv.listen).toEqual([{ host: '127.0.0.2', port: 21 }, { host: '::1', port: 21 }]);
    expect(withEnv.tlsRequired).toBe('off');
    expect(withEnv.sessionReuse).toBe('allow');
    expect(withEnv.logLevel).toBe('debug');

    const withFlags = await loadConfig({ config: file, root: '/flag-root', listen: ['127.0.0.3:0'], tlsRequired: 'login' }, { env, cwd: dir });
    expect(withFlags.root).toBe('/flag-root');
    expect(withFlags.listen).toEqual([{ host: '127.0.0.3', port: 0 }]);
    expect(withFlags.tlsRequired).toBe('login');
    expect(withFlags.logLevel).toBe('debug');
    expect(withFlags.pasvPorts).toEqual({ min: 50000, max: 50010 });
  });

  it('implicitListen off, from the file, the environment or a flag', async () => {
    const { dir, file } = await configFile('implicitListen: off\n');
    expect((await loadConfig({ config: file }, { env: {}, cwd: dir })).implicitListen).toEqual([]);
    expect((await loadConfig({}, { env: { FTPSD_IMPLICIT_LISTEN: 'off' }, cwd: dir })).implicitListen).toEqual([]);
    expect((await loadConfig({ implicitListen: ['off'] }, { env: {}, cwd: dir })).implicitListen).toEqual([]);
    const on = await loadConfig({ config: file, implicitListen: ['127.0.0.1:990'] }, { env: {}, cwd: dir });
    expect(on.implicitListen).toEqual([{ host: '127.0.0.1', port: 990 }]);
  });

  it('config users: hashes, homes relative to root; --user replaces them; FTPSD_PASSWORD only sets the default account', async () => {
    const { dir, file } = await configFile(
      `root: /srv/ftp\nusers:\n  - {name: alice, password: "${HASH}", home: alice}\n  - {name: bob, password: "${HASH}", home: /home/bob, readOnly: true}\nanonymous: {home: pub}\n`,
    );
    const c = await loadConfig({ config: file }, { env: { FTPSD_PASSWORD: 'ignored' }, cwd: dir });
    expect(c.users).toEqual([
      { name: 'alice', password: { hash: HASH }, home: '/srv/ftp/alice', readOnly: false },
      { name: 'bob', password: { hash: HASH }, home: '/home/bob', readOnly: true },
    ]);
    expect(c.anonymous).toEqual({ home: '/srv/ftp/pub' });
    expect(c.generatedPassword).toBeUndefined();
    expect(c.passwordFromEnv).toBe(false);

    const flags = await loadConfig({ config: file, user: ['carol:pw'] }, { env: {}, cwd: dir });
    expect(flags.users).toEqual([{ name: 'carol', password: { plain: 'pw' }, home: '/srv/ftp', readOnly: false }]);

    const envPw = await loadConfig({}, { env: { FTPSD_PASSWORD: 's3cret' }, cwd: dir });
    expect(envPw.users[0]!.password).toEqual({ plain: 's3cret' });
    expect(envPw.generatedPassword).toBeUndefined();
    expect(envPw.passwordFromEnv).toBe(true);
  });

  it('--anonymous serves the root; --cert/--key are relative to the working directory', async () => {
    const c = await loadConfig({ anonymous: true, cert: 'c.pem', key: 'k.pem' }, { env: {}, cwd: '/w' });
    expect(c.anonymous).toEqual({ home: '/w/ftp-root' });
    expect(c.tls).toEqual({ cert: '/w/c.pem', key: '/w/k.pem', fields: { cert: '--cert', key: '--key' } });
  });

  it('timeouts and limits: file values, the rest left to settings.ts defaults', async () => {
    const { dir, file } = await configFile('timeouts: {idleMs: 1000}\nlimits: {maxLoginFailures: 3}\n');
    const c = await loadConfig({ config: file }, { env: {}, cwd: dir });
    expect(c.timeouts).toEqual({ idleMs: 1000 });
    expect(c.limits).toEqual({ maxLoginFailures: 3 });
    expect(DEFAULT_LIMITS.maxLoginFailures).not.toBe(3);
  });

  it('errors are ConfigErrors naming the field', async () => {
    const { dir, file } = await configFile('listen: ["127.0.0.1:99999"]\nusers: [{name: x, password: plain}]\n');
    const err = await loadConfig({ config: file }, { env: {}, cwd: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).lines()).toEqual([
      'listen[0]: port must be <= 65535',
      'users[0].password: must be an argon2id hash (use: ftpsd hash-password)',
    ]);
    expect((err as ConfigError).message).toBe(`${file}: listen[0]: port must be <= 65535 (and 1 more: ftpsd check-config ${file})`);

    const flagErr = await loadConfig({ listen: ['1.2.3.4:5'], sessionReuse: 'maybe' }, { env: { FTPSD_PASV_PORTS: '9-1' } }).catch((e: unknown) => e);
    expect((flagErr as ConfigError).lines()).toEqual([
      '--session-reuse: must be one of require, require-or-client-cert, allow, off',
      'FTPSD_PASV_PORTS: range start 9 is greater than its end 1',
    ]);
  });

  it('workerHeartbeat: defaults, a partial mapping, and timeoutMs that must exceed intervalMs', async () => {
    expect((await loadConfig({}, { env: {}, cwd: '/srv' })).workerHeartbeat).toEqual({ intervalMs: 1000, timeoutMs: 10_000 });
    const { dir, file } = await configFile('workerHeartbeat:\n  timeoutMs: 3000\n');
    expect((await loadConfig({ config: file }, { env: {}, cwd: dir })).workerHeartbeat).toEqual({ intervalMs: 1000, timeoutMs: 3000 });
    const bad = await configFile('workerHeartbeat:\n  intervalMs: 5000\n  timeoutMs: 5000\n');
    await expect(loadConfig({ config: bad.file }, { env: {}, cwd: bad.dir })).rejects.toThrow('workerHeartbeat.timeoutMs: must be more than intervalMs (5000)');
    const typo = await configFile('workerHeartbeat:\n  timeout: 5000\n');
    await expect(loadConfig({ config: typo.file }, { env: {}, cwd: typo.dir })).rejects.toThrow(ConfigError);
  });
});
