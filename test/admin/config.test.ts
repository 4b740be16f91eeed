/**
 * The admin console's options at start-up: plain HTTP only on loopback (in one process and in the
 * cluster's primary), admin accounts need argon2id hashes, `admin.hosts` checked, a busy admin port
 * stops a cluster's start (dist/; run `npm run build` first).
 */
import { createServer } from 'node:net';
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

  it('checks the same in cluster mode (the primary runs the console)', async () => {
    const r = await start('adminListen: 0.0.0.0:0\nadmin: {tls: false}\nworkers: 2');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/admin\.tls: false is allowed only when adminListen is a loopback address/);
    expect(r.stderr).not.toMatch(/cluster mode/);
  });

  it('stops a cluster whose admin port is taken, with one clear line', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await start(`adminListen: 127.0.0.1:${port}\nworkers: 2`);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`error: cannot listen for the admin console on 127.0.0.1:${port}: address already in use`);
    } finally {
      busy.close();
    }
  });

  it('refuses an admin.hosts entry that is not a host name', async () => {
    const r = await start('adminListen: 127.0.0.1:0\nadmin: {hosts: ["https://admin.example:8443"]}');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/admin\.hosts\[0\]: must be a host name or IP address/);
  });

  it('reads FTPSD_ADMIN_LISTEN and checks it', async () => {
    const r = await start('', { FTPSD_ADMIN_LISTEN: 'not an address' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/FTPSD_ADMIN_LISTEN/);
  });
});
