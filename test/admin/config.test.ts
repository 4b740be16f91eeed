/**
 * The admin console's options at start-up: plain HTTP only on loopback, not in cluster mode, admin
 * accounts need argon2id hashes (dist/; run `npm run build` first).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, configFile, removeTempDirs, run } from '../cli/cli.js';

beforeAll(() => assertBuilt());
afterAll(() => removeTempDirs());

async function start(yaml: string, env: Record<string, string> = {}) {
  const { file } = await configFile(['listen: 127.0.0.1:0', 'implicitListen: []', 'root: .', 'stateDir: ../state', yaml].join('\n'));
  return run(['serve', '--config', file, '--user', 'a:b'], { env });
}

describe('admin console options', () => {
  it('refuses plain HTTP on an address that is not loopback', async () => {
    const r = await start('adminListen: 0.0.0.0:0\nadmin: {tls: false}');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/admin\.tls: false is allowed only when adminListen is a loopback address/);
  });

  it('refuses a plain password for an admin', async () => {
    const r = await start('adminListen: 127.0.0.1:0\nadmin: {users: [{name: admin, password: plain}]}');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/admin\.users\[0\]\.password: must be an argon2id hash/);
  });

  it('is not available in cluster mode yet', async () => {
    const r = await start('adminListen: 127.0.0.1:0\nworkers: 2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/adminListen: is not available in cluster mode yet/);
  });

  it('reads FTPSD_ADMIN_LISTEN and checks it', async () => {
    const r = await start('', { FTPSD_ADMIN_LISTEN: 'not an address' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/FTPSD_ADMIN_LISTEN/);
  });
});
