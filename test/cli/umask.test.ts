/**
 * Issue 21, item 9: `ftpsd serve` sets its own file mode creation mask (022 by default, `umask`,
 * `--umask`, `FTPSD_UMASK`) instead of inheriting one: started under umask 000, the served root and a
 * directory made with MKD are 0755, not 0777. Also: running as root without runAs is a warning.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { curl } from '../e2e/clients.js';
import { expectSuccess } from '../e2e/helpers.js';
import { ChildServer, killChildren, removeTempDirs, tempDir } from '../hardening/child-server.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';

afterEach(killChildren);
afterAll(removeTempDirs);

/** Starts ftpsd under umask 000 (children inherit the mask), makes a directory with MKD, stops it. */
async function modesUnderUmask000(extra: string[], env: Record<string, string> = {}): Promise<{ root: number; mkd: number; ftpd: ChildServer }> {
  const dir = await tempDir('ftpsd-umask-');
  const root = join(dir, 'served');
  const old = process.umask(0);
  let ftpd: ChildServer;
  try {
    ftpd = await ChildServer.start(['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', root, '--state-dir', join(dir, 'state'), '--user', 'u:p', '--tls-required', 'off', ...extra], env);
  } finally {
    process.umask(old);
  }
  expectSuccess(await curl(['--noproxy', '*', '-u', 'u:p', '-Q', 'MKD made', `ftp://127.0.0.1:${ftpd.port()}/`]));
  await ftpd.stop();
  return { root: statSync(root).mode & 0o777, mkd: statSync(join(root, 'made')).mode & 0o777, ftpd };
}

describe('umask', () => {
  it('022 by default, whatever the mask ftpsd inherited', async () => {
    const { root, mkd, ftpd } = await modesUnderUmask000([]);
    expect({ root: root.toString(8), mkd: mkd.toString(8) }).toEqual({ root: '755', mkd: '755' });
    if (process.geteuid?.() === 0) {
      expect(ftpd.logs().find((l) => /^running as root/.test(String(l.msg)))).toMatchObject({ level: 40 });
    }
  }, 60_000);

  it('--umask 027 and FTPSD_UMASK=077', async () => {
    expect((await modesUnderUmask000(['--umask', '027'])).mkd.toString(8)).toBe('750');
    expect((await modesUnderUmask000([], { FTPSD_UMASK: '077' })).mkd.toString(8)).toBe('700');
  }, 60_000);

  it('the config key takes an octal string (or the digits YAML made a number of); anything else is an error', async () => {
    const dir = await tempDir('ftpsd-umask-');
    const { writeFile } = await import('node:fs/promises');
    const file = join(dir, 'ftpsd.yaml');
    for (const [text, mask] of [['umask: "027"', 0o27], ['umask: 022', 0o22], ['umask: "1234"', undefined], ['umask: "8"', undefined]] as const) {
      await writeFile(file, `${text}\n`);
      const load = loadConfig({ config: file }, { env: {} });
      if (mask === undefined) await expect(load).rejects.toThrow(ConfigError);
      else expect((await load).umask).toBe(mask);
    }
    expect((await loadConfig({}, { env: {} })).umask).toBe(0o22);
  });
});
