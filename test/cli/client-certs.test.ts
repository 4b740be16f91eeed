/**
 * Client certificates in `ftpsd serve` (a real process): `clientCerts` in the config file (a user with
 * `login: certificate` and no password, a CRL replaced and taken on SIGHUP), `--client-ca` with
 * `--client-cert-required`, and FTPSD_CLIENT_CA; curl `--cert/--key` as the client.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientPki, type CertName, type ClientPki } from '../helpers/client-certs.js';
import { Served, assertBuilt, configFile, curl, killAll, loopbackArgs, removeTempDirs } from './cli.js';

let pki: ClientPki;
beforeAll(async () => {
  assertBuilt();
  pki = await clientPki();
}, 60_000);
afterEach(killAll);
afterAll(removeTempDirs);

/** curl over explicit FTPS listing `/` as `user` (empty password unless given), presenting `cert` if any. */
function list(port: number, user: string, cert?: CertName, password = ''): ReturnType<typeof curl> {
  const tls = cert ? ['--cert', pki.cert(cert).cert, '--key', pki.cert(cert).key] : [];
  return curl(['-v', '--ssl-reqd', '-k', ...tls, '-u', `${user}:${password}`, `ftp://127.0.0.1:${port}/`]);
}

async function waitFor(served: Served, pattern: RegExp, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!pattern.test(served.stdout)) {
    if (Date.now() > until) throw new Error(`not logged within ${ms} ms: ${pattern}\n${served.stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('ftpsd serve with client certificates', () => {
  it('config file: login by certificate alone (232), a CRL replaced and taken on SIGHUP', async () => {
    const { dir, file } = await configFile(
      [
        'users:',
        '  - {name: alice, login: certificate}',
        'clientCerts:',
        `  ca: ${pki.ca}`,
        '  crl: crl.pem',
        'limits: {loginFailureDelayMs: 10}',
      ].join('\n') + '\n',
    );
    await copyFile(pki.crlEmpty, join(dir, 'etc', 'crl.pem'));
    const ftpd = await Served.start(['--config', file, ...loopbackArgs(dir)]);
    const before = await list(ftpd.port, 'alice', 'alice-revoked');
    expect(before.code, before.stderr).toBe(0);
    expect(before.stderr).toMatch(/< 232 /);
    // The CA revokes it: the new CRL (DER this time) is read on SIGHUP.
    await copyFile(pki.crlDer, join(dir, 'etc', 'crl.pem'));
    ftpd.child.kill('SIGHUP');
    await waitFor(ftpd, /"changed":\["clientCerts"\],"msg":"config reloaded"/);
    const after = await list(ftpd.port, 'alice', 'alice-revoked');
    expect(after.code).toBe(67);
    expect(ftpd.stdout).toMatch(/"reason":"client certificate revoked"/);
    const other = await list(ftpd.port, 'alice', 'alice');
    expect(other.code, other.stderr).toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('--client-ca with --client-cert-required: no certificate, no handshake; with one, a password login', async () => {
    const { dir } = await configFile('');
    await mkdir(join(dir, 'root'), { recursive: true });
    const ftpd = await Served.start(['--client-ca', pki.ca, '--client-cert-required', '--user', 'dave:dave-pw', ...loopbackArgs(dir)]);
    const none = await list(ftpd.port, 'dave', undefined, 'dave-pw');
    expect(none.code).not.toBe(0);
    expect(none.stderr).not.toMatch(/< 230 /);
    const rogue = await list(ftpd.port, 'dave', 'alice-rogue', 'dave-pw');
    expect(rogue.code).not.toBe(0);
    const ok = await list(ftpd.port, 'dave', 'alice', 'dave-pw');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ftpd.stdout).toMatch(/"msg":"TLS connection refused: client certificate required"/);
  });

  it('FTPSD_CLIENT_CA: certificates asked for, not required', async () => {
    const { dir } = await configFile('');
    const ftpd = await Served.start(['--user', 'dave:dave-pw', ...loopbackArgs(dir)], { env: { FTPSD_CLIENT_CA: pki.ca } });
    expect((await list(ftpd.port, 'dave', undefined, 'dave-pw')).code).toBe(0);
    expect((await list(ftpd.port, 'dave', 'bob', 'dave-pw')).code).toBe(0);
    expect(ftpd.stdout).toMatch(/"certSubject":"CN=bob,OU=people,O=ftpsd tests".*"msg":"client certificate"/);
  });
});
