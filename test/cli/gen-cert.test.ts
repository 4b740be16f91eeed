/**
 * `ftpsd gen-cert` writes a self-signed certificate and key (0600) and prints the fingerprint; serve
 * uses such files with --cert/--key and prints the same fingerprint.
 */
import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Served, assertBuilt, killAll, listExplicit, removeTempDirs, run, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

describe('ftpsd gen-cert', () => {
  it('writes cert and key, prints the fingerprint, refuses to overwrite without --force', async () => {
    const dir = await tempDir();
    const r = await run(['gen-cert', '--name', 'ftp.example.org', '--name', '192.0.2.7'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cert = new X509Certificate(await readFile(join(dir, 'cert.pem')));
    expect(r.stdout).toContain(`fingerprint: SHA-256 ${cert.fingerprint256}\n`);
    expect(r.stdout).toContain(`certificate: ${join(dir, 'cert.pem')}\n`);
    expect(cert.subjectAltName).toMatch(/DNS:ftp\.example\.org/);
    expect(cert.subjectAltName).toMatch(/IP Address:192\.0\.2\.7/);
    expect(cert.subjectAltName).toMatch(/DNS:localhost/);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect((await stat(join(dir, 'key.pem'))).mode & 0o777).toBe(0o600);

    const again = await run(['gen-cert'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error: --cert: .*cert\.pem exists \(use --force to replace it\)\n$/);
    const forced = await run(['gen-cert', '--force'], { cwd: dir });
    expect(forced.code).toBe(0);
    expect(new X509Certificate(await readFile(join(dir, 'cert.pem'))).fingerprint256).not.toBe(cert.fingerprint256);
  });

  it('rejects a bad --name', async () => {
    const dir = await tempDir();
    const r = await run(['gen-cert', '--name', 'not a name'], { cwd: dir });
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'error: --name: "not a name" is not a host name or IP address\n' });
  });

  it('serve --cert/--key uses the files and prints their fingerprint', async () => {
    const dir = await tempDir();
    const made = await run(['gen-cert', '--cert', 'c.pem', '--key', 'k.pem'], { cwd: dir });
    const fingerprint = /fingerprint: SHA-256 (\S+)/.exec(made.stdout)![1];
    const ftpd = await Served.start(
      ['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--cert', 'c.pem', '--key', 'k.pem', '--root', 'root', '--user', 'u:p'],
      { cwd: dir },
    );
    expect(ftpd.banner.fingerprint).toBe(fingerprint);
    expect(ftpd.banner.certificate).toBe(`${join(dir, 'c.pem')} (from file)`);
    expect(ftpd.banner.implicit).toEqual([]);
    expect((await listExplicit(ftpd.port, 'u', 'p')).code).toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('serve refuses a key that does not belong to the certificate', async () => {
    const dir = await tempDir();
    await run(['gen-cert', '--cert', 'a.pem', '--key', 'a.key'], { cwd: dir });
    await run(['gen-cert', '--cert', 'b.pem', '--key', 'b.key'], { cwd: dir });
    const r = await run(['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--cert', 'a.pem', '--key', 'b.key', '--root', 'root'], { cwd: dir });
    expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'error: --key: does not belong to the certificate\n' });
  });
});
