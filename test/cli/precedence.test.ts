/**
 * Real processes: command-line flags override FTPSD_* variables, which override the config file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Served, assertBuilt, curl, killAll, listExplicit, removeTempDirs, run, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

async function setup(): Promise<{ dir: string; config: string }> {
  const dir = await tempDir();
  const hash = (await run(['hash-password'], { input: 'dave-pw\n' })).stdout.trim();
  const config = join(dir, 'ftpsd.yaml');
  await writeFile(
    config,
    [
      'listen: ["127.0.0.1:0"]',
      'implicitListen: ["127.0.0.1:0"]',
      'root: from-file',
      `stateDir: state`,
      'tlsRequired: all',
      'users:',
      `  - {name: dave, password: "${hash}"}`,
    ].join('\n'),
  );
  return { dir, config };
}

const tlsLine = (stdout: string) => /^tls:\s+(.*)$/m.exec(stdout)?.[1];

describe('precedence', () => {
  it('the config file alone', async () => {
    const { dir, config } = await setup();
    const ftpd = await Served.start(['--config', config]);
    expect(ftpd.banner.root).toBe(join(dir, 'from-file'));
    expect(ftpd.banner.implicit).toHaveLength(1);
    expect(tlsLine(ftpd.stdout)).toBe('required: all, session reuse: require');
    expect(ftpd.banner.certificate).toMatch(new RegExp(`^${join(dir, 'state', 'cert.pem')} `));
    expect((await listExplicit(ftpd.port, 'dave', 'dave-pw')).code).toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('environment variables override the file', async () => {
    const { dir, config } = await setup();
    const ftpd = await Served.start(['--config', config], {
      env: { FTPSD_ROOT: join(dir, 'from-env'), FTPSD_TLS_REQUIRED: 'off', FTPSD_IMPLICIT_LISTEN: 'off', FTPSD_SESSION_REUSE: 'allow' },
    });
    expect(ftpd.banner.root).toBe(join(dir, 'from-env'));
    expect(ftpd.banner.implicit).toEqual([]);
    expect(tlsLine(ftpd.stdout)).toBe('required: off, session reuse: allow');
    const plain = await curl(['-u', 'dave:dave-pw', `ftp://127.0.0.1:${ftpd.port}/`]);
    expect(plain.code).toBe(0); // plain FTP allowed now
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('flags override the environment and the file', async () => {
    const { dir, config } = await setup();
    const flags = ['--root', join(dir, 'from-flag'), '--tls-required', 'login', '--user', 'erin:erin-pw', '--listen', '127.0.0.1:0'];
    const ftpd = await Served.start(['--config', config, ...flags], {
      env: { FTPSD_ROOT: join(dir, 'from-env'), FTPSD_TLS_REQUIRED: 'off', FTPSD_LISTEN: '[::1]:0' },
    });
    expect(ftpd.banner.root).toBe(join(dir, 'from-flag'));
    expect(ftpd.banner.explicit).toEqual([{ host: '127.0.0.1', port: expect.any(Number) }]);
    expect(tlsLine(ftpd.stdout)).toBe('required: login, session reuse: require');
    expect(ftpd.banner.user).toBe('erin');
    const plain = await curl(['-u', 'erin:erin-pw', `ftp://127.0.0.1:${ftpd.port}/`]);
    expect(plain.code).not.toBe(0);
    expect((await listExplicit(ftpd.port, 'erin', 'erin-pw')).code).toBe(0);
    expect((await listExplicit(ftpd.port, 'dave', 'dave-pw')).code).toBe(67);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('FTPSD_LISTEN alone sets the listeners', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start(['--root', join(dir, 'root'), '--state-dir', join(dir, 'state')], {
      env: { FTPSD_LISTEN: '127.0.0.1:0', FTPSD_IMPLICIT_LISTEN: '127.0.0.1:0', FTPSD_LOG_LEVEL: 'silent' },
    });
    expect(ftpd.banner.explicit).toEqual([{ host: '127.0.0.1', port: expect.any(Number) }]);
    expect(ftpd.banner.implicit).toEqual([{ host: '127.0.0.1', port: expect.any(Number) }]);
    expect(ftpd.stdout).not.toMatch(/^\{/m);
    expect((await listExplicit(ftpd.port, 'ftpsd', ftpd.banner.password!)).code).toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });
});
