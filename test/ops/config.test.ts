/**
 * The operations options in the config file, the environment and on the command line: values,
 * precedence (flags > env > file), paths, and errors that name the field.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { parseConfigText } from '../../src/config/file.js';
import { configFile, removeTempDirs } from '../cli/cli.js';

afterAll(removeTempDirs);

async function issues(run: () => Promise<unknown>): Promise<string[]> {
  try {
    await run();
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('operations options', () => {
  it('are off by default', async () => {
    const c = await loadConfig({}, { env: {}, cwd: '/srv' });
    expect(c.logFormat).toBe('auto');
    expect(c.metricsListen).toBeUndefined();
    expect(c.xferlog).toBeUndefined();
    expect(c.hooks).toEqual([]);
    expect(c.webhooks).toEqual([]);
    expect(c.hookDelivery).toEqual({});
  });

  it('come from the file, relative paths relative to it', async () => {
    const { dir, file } = await configFile(
      [
        'logFormat: json',
        'metricsListen: "127.0.0.1:9102"',
        'xferlog: log/xferlog',
        'hooks:',
        '  - upload=/usr/local/bin/scan --quiet "a b"',
        '  - { event: delete, command: [/usr/local/bin/audit, --delete] }',
        'webhooks:',
        '  - https://hooks.example.test/ftpsd',
        '  - { url: "http://127.0.0.1:8080/in", events: [upload, rename] }',
        'hookDelivery: { queueSize: 10, concurrency: 2, timeoutMs: 500, retries: 0, retryDelayMs: 50, drainMs: 3000 }',
        '',
      ].join('\n'),
    );
    const c = await loadConfig({ config: file }, { env: {}, cwd: dir });
    expect(c.logFormat).toBe('json');
    expect(c.metricsListen).toEqual({ host: '127.0.0.1', port: 9102 });
    expect(c.xferlog).toBe(join(dir, 'etc', 'log', 'xferlog'));
    expect(c.hooks).toEqual([
      { event: 'upload', argv: ['/usr/local/bin/scan', '--quiet', 'a b'] },
      { event: 'delete', argv: ['/usr/local/bin/audit', '--delete'] },
    ]);
    expect(c.webhooks).toEqual([{ url: 'https://hooks.example.test/ftpsd' }, { url: 'http://127.0.0.1:8080/in', events: ['upload', 'rename'] }]);
    expect(c.hookDelivery).toEqual({ queueSize: 10, concurrency: 2, timeoutMs: 500, retries: 0, retryDelayMs: 50, drainMs: 3000 });
  });

  it('the environment overrides the file, and flags override both', async () => {
    const { dir, file } = await configFile('logFormat: json\nmetricsListen: "127.0.0.1:9102"\nxferlog: /var/log/a\nhooks: [login=/bin/a]\nwebhooks: [http://127.0.0.1/a]\n');
    const env = { FTPSD_LOG_FORMAT: 'pretty', FTPSD_METRICS_LISTEN: '[::1]:9200', FTPSD_XFERLOG: 'rel/xfer' };
    const fromEnv = await loadConfig({ config: file }, { env, cwd: dir });
    expect(fromEnv.logFormat).toBe('pretty');
    expect(fromEnv.metricsListen).toEqual({ host: '::1', port: 9200 });
    expect(fromEnv.xferlog).toBe(join(dir, 'rel', 'xfer'));
    const fromFlags = await loadConfig(
      { config: file, logFormat: 'json', metricsListen: 'off', xferlog: 'off', hook: ['logout=/bin/b x'], webhook: ['https://h.example.test/b'] },
      { env, cwd: dir },
    );
    expect(fromFlags.logFormat).toBe('json');
    expect(fromFlags.metricsListen).toBeUndefined();
    expect(fromFlags.xferlog).toBeUndefined();
    expect(fromFlags.hooks).toEqual([{ event: 'logout', argv: ['/bin/b', 'x'] }]);
    expect(fromFlags.webhooks).toEqual([{ url: 'https://h.example.test/b' }]);
    const envOff = await loadConfig({ config: file }, { env: { FTPSD_METRICS_LISTEN: 'off', FTPSD_XFERLOG: 'off' }, cwd: dir });
    expect(envOff.metricsListen).toBeUndefined();
    expect(envOff.xferlog).toBeUndefined();
  });

  it('errors name the flag, the variable or the field', async () => {
    expect(await issues(() => loadConfig({ metricsListen: '127.0.0.1:99999' }, { env: {} }))).toEqual(['--metrics-listen: port must be <= 65535']);
    expect(await issues(() => loadConfig({ hook: ['uplod=/bin/true'] }, { env: {} }))).toEqual([
      '--hook: unknown event "uplod" (events: upload, download, delete, rename, mkdir, login, logout, or * for all)',
    ]);
    expect(await issues(() => loadConfig({ webhook: ['ftp://x.example.test/'] }, { env: {} }))).toEqual(['--webhook: must be an http:// or https:// URL']);
    expect(await issues(() => loadConfig({ logFormat: 'fancy' }, { env: {} }))).toEqual(['--log-format: must be one of auto, json, pretty']);
    expect(await issues(() => loadConfig({}, { env: { FTPSD_XFERLOG: '' , FTPSD_METRICS_LISTEN: 'nope' } }))).toEqual([
      expect.stringMatching(/^FTPSD_METRICS_LISTEN: /),
    ]);
    const fileErrors = (text: string) => {
      try {
        parseConfigText(text, 'ftpsd.yaml');
      } catch (err) {
        return (err as ConfigError).lines();
      }
      return [];
    };
    expect(fileErrors('hooks:\n  - { event: upload, command: [] }\n')).toEqual(['hooks[0]: command: must be a command line, or a list [program, arg, ...]']);
    expect(fileErrors('hooks:\n  - { event: upload, command: x, shell: true }\n')).toEqual(['hooks[0]: shell: unknown option (a hook has event and command)']);
    expect(fileErrors('webhooks: [{ url: "https://a.example.test", events: [nope] }]\n')).toEqual(['webhooks[0]: unknown event "nope"']);
    expect(fileErrors('hookDelivery: { concurrency: 0 }\n')).toEqual(['hookDelivery.concurrency: must be >= 1']);
    expect(fileErrors('hookDelivery: { retry: 1 }\n')).toEqual(['hookDelivery.retry: unknown option']);
  });
});
