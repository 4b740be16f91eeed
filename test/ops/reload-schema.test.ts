/**
 * The config reload driven by the schema: each top-level option carries its reload mode (`reload`
 * metadata), a `restart` option changed is reported and kept, and every other setting reaches the running
 * server without a hand copy per field (here the policy options, tlsRequired, sessionReuse and
 * dataProtection, from the file and from a flag on top of it). A new client sees the new policy.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { ConfigReloader } from '../../src/runtime/config-reload.js';
import { loadConfig, type CliFlags } from '../../src/config/load.js';
import { configSchema, reloadMode } from '../../src/config/schema.js';
import { certificateFiles, toServerOptions } from '../../src/config/server-options.js';
import { silentLogger } from '../../src/logger.js';
import { FtpServer } from '../../src/server.js';
import { CertificateReloader } from '../../src/runtime/certificate-reload.js';
import { RawClient } from '../helpers/raw-client.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('reload marks on the schema', () => {
  it('every top-level option has one, and those that need a restart are the process-wide ones', () => {
    const keys = Object.keys(configSchema.shape);
    expect(keys.filter((k) => reloadMode(k) === undefined)).toEqual([]);
    expect(keys.filter((k) => reloadMode(k) === 'restart').sort()).toEqual(
      ['listen', 'implicitListen', 'runAs', 'workers', 'workerHeartbeat', 'logFormat', 'metricsListen', 'adminListen', 'xferlog', 'hooks', 'webhooks', 'hookDelivery', 'acme', 'userDb'].sort(),
    );
    expect(reloadMode('sessionReuse')).toBe('new-connections');
    expect(reloadMode('colour')).toBeUndefined();
  });
});

describe('ConfigReloader applies the settings generically', () => {
  it('policy options from the file (a flag still wins); a restart option is reported and kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ftpsd-reload-schema-'));
    dirs.push(dir);
    const file = join(dir, 'ftpsd.yaml');
    const hash = await hashPassword('pw');
    const yaml = (extra: string[]) =>
      ['listen: ["127.0.0.1:0"]', 'implicitListen: off', 'root: root', 'stateDir: state', `users: [{name: alice, password: "${hash}"}]`, ...extra, ''].join('\n');
    await writeFile(file, yaml(['tlsRequired: off']));
    const flags: CliFlags = { config: file, dataProtection: 'tls-sessions' };
    const config = await loadConfig(flags, { env: {} });
    const prepared = await toServerOptions(config, silentLogger);
    const server = new FtpServer(prepared.options);
    const { explicit } = await server.listen();
    const certificates = new CertificateReloader(server, certificateFiles(config));
    const reloader = new ConfigReloader(server, certificates, { flags, env: {} }, { config, certificate: prepared.certificate }, silentLogger);
    try {
      expect(server.settings).toMatchObject({ tlsRequired: 'off', sessionReuse: 'require', dataProtection: 'tls-sessions' });

      await writeFile(file, yaml(['tlsRequired: all', 'sessionReuse: allow', 'dataProtection: optional', 'workers: 3']));
      const result = await reloader.reload('test');
      expect(result).toEqual({ ok: true, changed: ['tlsRequired', 'sessionReuse'], restartNeeded: ['workers'] });
      // The flag keeps dataProtection; the restart option stays as it was in the config in force.
      expect(server.settings).toMatchObject({ tlsRequired: 'all', sessionReuse: 'allow', dataProtection: 'tls-sessions' });
      expect(reloader.config.workers).toBe(config.workers);

      // A new connection gets the new policy: USER before TLS is refused now.
      const c = await RawClient.connect(explicit[0]!.port, '127.0.0.1');
      await c.expectCmd('USER alice', 530);
      c.close();
    } finally {
      reloader.close();
      await server.close();
    }
  });
});
