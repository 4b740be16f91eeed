/**
 * Database users logging in by client certificate (`ftpsd user add/set --login MODE
 * --certificate-sha256 HEX`), against a real PostgreSQL and a real `ftpsd serve --user-db --client-ca`,
 * curl `--cert/--key` as the client: `certificate` logs in by the certificate alone (232, no password
 * stored), `certificate+password` needs both, pins restrict which certificates vouch, and a certificate
 * that is not the user's, is signed by another CA or is missing is refused with the reason in the log.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientPki, type CertName, type ClientPki } from '../helpers/client-certs.js';
import { until } from '../helpers/poll.js';
import { postgresBin, usingPostgres } from '../services/postgres.js';
import { Served, assertBuilt, curl, killAll, loopbackArgs, removeTempDirs, run, tempDir } from './cli.js';

const BIN = postgresBin();
if (!BIN) console.warn('user database certificate tests skipped: postgresql is not installed (apt-get install -y postgresql)');

describe.skipIf(!BIN)('database users with client certificates', () => {
  const pgs = usingPostgres();
  let pki: ClientPki;
  let node: Served;
  const env = () => ({ FTPSD_USER_DB: pgs.db.url });
  const user = (args: string[], input?: string) => run(['user', ...args], { env: env(), ...(input !== undefined ? { input } : {}) });
  /** curl over explicit FTPS listing `/` as `name`, presenting `cert` if any. */
  const list = (name: string, cert?: CertName, password = '') => {
    const tls = cert ? ['--cert', pki.cert(cert).cert, '--key', pki.cert(cert).key] : [];
    return curl(['-v', '--ssl-reqd', '-k', ...tls, '-u', `${name}:${password}`, `ftp://127.0.0.1:${node.port}/`]);
  };
  const logged = (text: string) => until(() => node.stdout.includes(text), text, 5_000);

  beforeAll(async () => {
    assertBuilt();
    pki = await clientPki();
    const dir = await tempDir();
    node = await Served.start(['--client-ca', pki.ca, '--log-format', 'json', ...loopbackArgs(dir), '--root', join(dir, 'root')], { env: env() });
  }, 60_000);
  afterAll(async () => {
    killAll();
    await removeTempDirs();
  });

  it('--login certificate: no password is made; the certificate alone logs in (232); none, another user\'s or a rogue CA\'s is refused', async () => {
    const added = await user(['add', 'alice', '--login', 'certificate']);
    expect(added).toMatchObject({ code: 0, stdout: 'user "alice" added\n' });
    const row = (await pgs.sql.query('select password_hash, login, certificates from ftpsd_users where name = $1', ['alice'])).rows[0];
    expect(row).toEqual({ password_hash: null, login: 'certificate', certificates: null });
    const ok = await list('alice', 'alice');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/< 232 /);
    expect((await list('alice')).code).toBe(67);
    expect((await list('alice', 'bob')).code).toBe(67);
    await logged('"reason":"client certificate names bob"');
    expect((await list('alice', 'alice-rogue')).code).toBe(67);
    await logged('"reason":"not signed by a trusted CA"');
    // Any password is no way in for a certificate user.
    expect((await list('alice', undefined, 'guess')).code).toBe(67);
  });

  it('--login certificate+password with a pin: both needed, and only the pinned certificate', async () => {
    const bob = pki.cert('bob');
    expect((await user(['add', 'bob', '--login', 'certificate+password', '--certificate-sha256', bob.fingerprint, '--password-stdin'], 'bob-Pass-1\n')).code).toBe(0);
    const ok = await list('bob', 'bob', 'bob-Pass-1');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/< 331 /); // a password is still asked for
    expect((await list('bob', 'bob', 'wrong')).code).toBe(67);
    expect((await list('bob', undefined, 'bob-Pass-1')).code).toBe(67);
    await logged('"reason":"no client certificate"');
    // Pinned to bob's certificate: alice's own certificate no longer vouches for alice; `none` lifts the pin.
    expect((await user(['set', 'alice', '--certificate-sha256', bob.fingerprint])).code).toBe(0);
    expect((await list('alice', 'alice')).code).toBe(67);
    await logged('"reason":"client certificate not pinned for this user"');
    expect((await user(['set', 'alice', '--certificate-sha256', 'none'])).code).toBe(0);
    expect((await list('alice', 'alice')).code).toBe(0);
  });

  it('flag errors: a bad mode or fingerprint (exit 2); password login for a user without one (exit 1)', async () => {
    expect((await user(['add', 'carol', '--login', 'token'])).code).toBe(2);
    expect((await user(['add', 'carol', '--certificate-sha256', 'abc'])).code).toBe(2);
    const none = await user(['set', 'alice', '--login', 'password']);
    expect(none).toMatchObject({ code: 1, stderr: 'error: user "alice" has no password: give one with --password-stdin\n' });
    // With a password given, the change is made; the certificate alone no longer logs in.
    expect((await user(['set', 'alice', '--login', 'password', '--password-stdin'], 'alice-Pass-1\n')).code).toBe(0);
    expect((await list('alice', 'alice')).code).toBe(67);
    expect((await list('alice', undefined, 'alice-Pass-1')).code).toBe(0);
  });
});
