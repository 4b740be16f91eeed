/**
 * TLS client certificates (issue 22, RFC 4217 section 12.2) with real clients and certificates made by
 * openssl (test/helpers/client-certs.ts): curl `--cert/--key`, lftp `ssl:cert-file`/`ssl:key-file`,
 * Python ssl (ftplib FTP_TLS with a context that load_cert_chain; also one that presents its certificate
 * on data connections without resuming, as Java's JSSE does). Hostile cases: a rogue CA with the same
 * subject names, an expired certificate, a revoked one (CRL), bob's certificate for USER alice, a pin
 * that does not match, no certificate where one is required.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserAuthenticator, type UserAccount } from '../../src/auth/users.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { clientPki, type CertName, type ClientPki } from '../helpers/client-certs.js';
import { serversPerTest } from '../helpers/block-server.js';
import { testCert, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { curl, lftp } from './clients.js';
import { describeRun, expectFailure, expectSuccess, run } from './helpers.js';
import type { SessionReuse } from '../../src/policy-options.js';
import { pemCrl } from '../../src/tls/client-certs.js';
import { Sessions } from '../../src/embed/sessions.js';
import { createServer } from '../../src/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';

const DRIVER = fileURLToPath(new URL('./client-cert-driver.py', import.meta.url));

let pki: ClientPki;
beforeAll(async () => {
  pki = await clientPki();
}, 60_000);

const start = serversPerTest();

interface Setup {
  required?: boolean;
  crl?: 'pem' | 'der' | 'none';
  sessionReuse?: SessionReuse;
  users?: (home: string) => UserAccount[];
  userName?: 'commonName' | 'email' | 'dn';
  extra?: TestServerOptions;
}

/** A server with client certificates asked for, its log captured at info. */
async function certServer(setup: Setup = {}): Promise<{ t: TestServer; log: CapturedLog }> {
  const log = captureLog('info');
  const cert = await testCert();
  const crlFile = setup.crl === 'der' ? pki.crlDer : setup.crl === 'none' ? undefined : pki.crlPem;
  const crl = crlFile ? [await readFile(crlFile)] : undefined;
  const t = await start({
    tls: { cert: cert.cert, key: cert.key, clientCerts: { ca: await readFile(pki.ca), ...(crl ? { crl: crl.map(pemCrl) } : {}), required: setup.required === true } },
    tlsRequired: 'login',
    sessionReuse: setup.sessionReuse ?? 'require',
    logger: log.logger,
    ...setup.extra,
    authenticator: undefined,
  });
  // The authenticator needs the home: made after the server's temp root exists.
  const users = (setup.users ?? defaultUsers)(t.root);
  t.server.reconfigure({ authenticator: new UserAuthenticator(users, undefined, setup.userName ? { certificateUserName: setup.userName } : {}) });
  return { t, log };
}

function defaultUsers(home: string): UserAccount[] {
  return [
    { name: 'alice', login: 'certificate', home },
    { name: 'bob', login: 'certificate+password', password: { plain: 'bob-pw' }, home },
    { name: 'dave', password: { plain: 'dave-pw' }, home },
  ];
}

interface DriverResult {
  user?: string;
  pass?: string;
  list?: string;
  lines?: string[];
  upload?: string;
  error?: string;
}

/** The Python ssl client (ftplib) with `cert` (a name of the test PKI) or none. */
async function py(t: TestServer, cfg: { cert?: CertName; user: string; password?: string; list?: boolean; upload?: string; data?: string; dataCert?: CertName; implicit?: boolean; tlsMax?: '1.2' }): Promise<DriverResult> {
  const { cert, dataCert, implicit, ...rest } = cfg;
  const config = {
    host: t.host,
    port: implicit ? t.implicitPort : t.port,
    implicit: implicit === true,
    ...(cert ? { cert: pki.cert(cert).cert, key: pki.cert(cert).key } : {}),
    ...(dataCert ? { dataCert: pki.cert(dataCert).cert, dataKey: pki.cert(dataCert).key } : {}),
    ...rest,
  };
  const r = await run('python3', [DRIVER, JSON.stringify(config)], { timeoutMs: 60_000 });
  expect(r.code, describeRun(r)).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as DriverResult;
}

/** The `login failed` lines' reasons. */
function failures(log: CapturedLog): unknown[] {
  return log.find('login failed').map((l) => l.reason);
}

describe('client certificates: logins', () => {
  it('curl --cert/--key: USER alice is answered 232 and no PASS is sent; listing over PROT P', async () => {
    const { t, log } = await certServer();
    await writeFile(join(t.root, 'hello.txt'), 'hi\n');
    const alice = pki.cert('alice');
    const r = expectSuccess(
      await curl(['--verbose', '--ssl-reqd', '--insecure', '--cert', alice.cert, '--key', alice.key, '--user', 'alice:', `ftp://${t.host}:${t.port}/`]),
    );
    expect(r.stdout).toContain('hello.txt');
    expect(r.stderr).toMatch(/< 232 /);
    expect(r.stderr).not.toMatch(/> PASS/);
    const login = log.find('login')[0]!;
    expect(login).toMatchObject({ user: 'alice', by: 'certificate', certSubject: 'CN=alice,OU=people,O=ftpsd tests', certFingerprint: alice.fingerprint });
  });

  it('curl over implicit FTPS presents its certificate too', async () => {
    const { t } = await certServer({ extra: { implicit: true } });
    const alice = pki.cert('alice');
    const r = expectSuccess(await curl(['--verbose', '--insecure', '--cert', alice.cert, '--key', alice.key, '--user', 'alice:', `ftps://${t.host}:${t.implicitPort}/`]));
    expect(r.stderr).toMatch(/< 232 /);
  });

  it('lftp ssl:cert-file/ssl:key-file: upload and download as alice by certificate', async () => {
    const { t } = await certServer();
    const alice = pki.cert('alice');
    const dir = pki.dir;
    const r = await lftp(
      [
        'set ftp:ssl-force yes',
        'set ftp:ssl-protect-data yes',
        `set ssl:cert-file ${alice.cert}`,
        `set ssl:key-file ${alice.key}`,
        `open -u alice, ftp://${t.host}:${t.port}`,
        `put ${join(dir, 'alice.crt')} -o up.crt`,
        `get up.crt -o ${join(dir, 'lftp-back.crt')}`,
      ].join('; '),
    );
    expectSuccess(r);
    expect(await readFile(join(t.root, 'up.crt'), 'utf8')).toBe(alice.pem);
    expect(await readFile(join(dir, 'lftp-back.crt'), 'utf8')).toBe(alice.pem);
  });

  it('Python ssl (load_cert_chain): 232, then a listing over a resumed data connection', async () => {
    const { t } = await certServer();
    const r = await py(t, { cert: 'alice', user: 'alice', list: true });
    expect(r).toMatchObject({ user: '232', list: '226' });
  });

  it('certificate+password: both needed', async () => {
    const { t, log } = await certServer();
    expect(await py(t, { cert: 'bob', user: 'bob', password: 'bob-pw', list: true })).toMatchObject({ user: '331', pass: '230', list: '226' });
    expect(await py(t, { cert: 'bob', user: 'bob', password: 'wrong' })).toMatchObject({ user: '331', pass: '530' });
    expect(await py(t, { user: 'bob', password: 'bob-pw' })).toMatchObject({ user: '331', pass: '530' });
    expect(await py(t, { cert: 'alice', user: 'bob', password: 'bob-pw' })).toMatchObject({ user: '331', pass: '530' });
    expect(failures(log)).toEqual([undefined, 'no client certificate', 'client certificate names alice']);
  });

  it('a password account logs in with or without a certificate (not required)', async () => {
    const { t } = await certServer();
    expect(await py(t, { user: 'dave', password: 'dave-pw' })).toMatchObject({ user: '331', pass: '230' });
    expect(await py(t, { cert: 'alice', user: 'dave', password: 'dave-pw' })).toMatchObject({ user: '331', pass: '230' });
  });

  it('the session view and the logs show the certificate', async () => {
    const { t, log } = await certServer();
    const view = new Sessions(() => t.server.sessions);
    const seen: unknown[] = [];
    t.server.events.on('login', () => {
      for (const session of view) seen.push(JSON.parse(JSON.stringify(session)).certificate);
    });
    expect(await py(t, { cert: 'alice', user: 'alice' })).toMatchObject({ user: '232' });
    expect(seen).toEqual([{ subject: 'CN=alice,OU=people,O=ftpsd tests', fingerprint: pki.cert('alice').fingerprint, verified: true }]);
    expect(log.find('client certificate')[0]).toMatchObject({ certSubject: 'CN=alice,OU=people,O=ftpsd tests', certVerified: true });
  });

  it('userName: email and dn', async () => {
    const email = await certServer({ userName: 'email', users: (home) => [{ name: 'alice.mail@example.org', login: 'certificate', home }] });
    expect(await py(email.t, { cert: 'alice-email', user: 'alice.mail@example.org' })).toMatchObject({ user: '232' });
    const dn = await certServer({ userName: 'dn', users: (home) => [{ name: 'CN=alice,OU=people,O=ftpsd tests', login: 'certificate', home }] });
    expect(await py(dn.t, { cert: 'alice', user: 'CN=alice,OU=people,O=ftpsd tests' })).toMatchObject({ user: '232' });
    expect(await py(dn.t, { cert: 'bob', user: 'CN=alice,OU=people,O=ftpsd tests' })).toMatchObject({ user: '331', pass: '530' });
  });
});

describe('client certificates: hostile cases', () => {
  it.each([
    ['alice-rogue', 'not signed by a trusted CA'],
    ['alice-expired', 'client certificate expired'],
    ['alice-revoked', 'client certificate revoked'],
    ['bob', 'client certificate names bob'],
    [undefined, 'no client certificate'],
  ] as const)('%s as USER alice: 331 then 530, logged as "%s"', async (cert, reason) => {
    const { t, log } = await certServer();
    const r = await py(t, { ...(cert ? { cert } : {}), user: 'alice', password: '' });
    expect(r).toMatchObject({ user: '331', pass: '530' });
    expect(failures(log)).toEqual([reason]);
  });

  it('a DER CRL works as well as a PEM one', async () => {
    const { t, log } = await certServer({ crl: 'der' });
    expect(await py(t, { cert: 'alice-revoked', user: 'alice' })).toMatchObject({ user: '331', pass: '530' });
    expect(failures(log)).toEqual(['client certificate revoked']);
    expect(await py(t, { cert: 'alice', user: 'alice' })).toMatchObject({ user: '232' });
  });

  it('a pinned fingerprint that does not match refuses a valid certificate', async () => {
    const pinnedTo = (fp: string) => (home: string): UserAccount[] => [{ name: 'alice', login: 'certificate', certificates: [fp], home }];
    const wrong = await certServer({ users: pinnedTo(pki.cert('alice-revoked').fingerprint) });
    expect(await py(wrong.t, { cert: 'alice', user: 'alice' })).toMatchObject({ user: '331', pass: '530' });
    expect(failures(wrong.log)).toEqual(['client certificate not pinned for this user']);
    const right = await certServer({ users: pinnedTo(pki.cert('alice').fingerprint.replace(/:/g, '').toLowerCase()) });
    expect(await py(right.t, { cert: 'alice', user: 'alice' })).toMatchObject({ user: '232' });
  });

  it('required: a handshake without a certificate is refused, and one with a rogue certificate', async () => {
    const { t, log } = await certServer({ required: true });
    const none = await py(t, { user: 'dave', password: 'dave-pw' });
    expect(none.error ?? none.user).toMatch(/SSL|EOF|Connection|certificate/i);
    expect(none.pass).toBeUndefined();
    const rogue = await py(t, { cert: 'alice-rogue', user: 'dave', password: 'dave-pw' });
    expect(rogue.pass).toBeUndefined();
    expect(log.find('TLS connection refused: client certificate required').map((l) => l.reason)).toContain('not signed by a trusted CA');
    expect(await py(t, { cert: 'alice', user: 'dave', password: 'dave-pw', list: true })).toMatchObject({ user: '331', pass: '230', list: '226' });
  });

  it('certificate logins count towards bans; a banned address gets no 232', async () => {
    const { t } = await certServer({ extra: { security: { ban: { failures: 2 } } } });
    expect(await py(t, { cert: 'bob', user: 'alice' })).toMatchObject({ user: '331', pass: '530' });
    expect((await py(t, { cert: 'alice-rogue', user: 'alice' })).pass).toMatch(/530|421/);
    // Banned: refused at connect, before any handshake (connection.ts certificateLogin also checks the ban).
    const after = await py(t, { cert: 'alice', user: 'alice' });
    expect(after.user).toBeUndefined();
    expect(after.error).toMatch(/421/);
  });
});

describe('client certificates: data connections', () => {
  it('a data connection presenting another certificate than the control connection is refused (425)', async () => {
    const { t, log } = await certServer({ sessionReuse: 'allow' });
    expect(await py(t, { cert: 'alice', user: 'alice', list: true, data: 'fresh-other', dataCert: 'bob' })).toMatchObject({ user: '232', list: '425' });
    expect(log.find('data connection refused: client certificate')).toHaveLength(1);
    expect(await py(t, { cert: 'alice', user: 'alice', list: true, data: 'fresh' })).toMatchObject({ user: '232', list: '226' });
  });

  it('require-or-client-cert: a fresh data connection with the same verified certificate is accepted (JSSE-like client)', async () => {
    const { t } = await certServer({ sessionReuse: 'require-or-client-cert' });
    expect(await py(t, { cert: 'alice', user: 'alice', list: true, upload: 'py.txt', data: 'fresh' })).toMatchObject({ user: '232', upload: '226', list: '226' });
    expect(await readFile(join(t.root, 'py.txt'), 'utf8')).toBe('hello from python\n');
    expect(await py(t, { cert: 'alice', user: 'alice', list: true, data: 'fresh', tlsMax: '1.2' })).toMatchObject({ list: '226' });
    // Without the certificate, or with another one, a connection that does not resume is still refused.
    expect(await py(t, { cert: 'alice', user: 'alice', list: true, data: 'fresh-none' })).toMatchObject({ list: '425' });
    expect(await py(t, { cert: 'alice', user: 'alice', list: true, data: 'fresh-other', dataCert: 'bob' })).toMatchObject({ list: '425' });
    // A password login without a certificate has nothing to bind with.
    expect(await py(t, { user: 'dave', password: 'dave-pw', list: true, data: 'fresh-none' })).toMatchObject({ pass: '230', list: '425' });
    // Resuming still works.
    expect(await py(t, { cert: 'alice', user: 'alice', list: true })).toMatchObject({ list: '226' });
  });

  it('require (the default) refuses the same fresh data connection', async () => {
    const { t } = await certServer({ sessionReuse: 'require' });
    const r = await py(t, { cert: 'alice', user: 'alice', list: true, data: 'fresh' });
    expect(r.user).toBe('232');
    // TLS 1.3: the refused data connection is reset after its handshake, so the client's read fails.
    expect(r.list).toMatch(/^(425|data: )/);
  });
});

describe("client certificates with curl's early data-connection handshake (src/data/early-tls.ts)", () => {
  // curl sends its ClientHello on the data connection before RETR/STOR: the handshake is answered then,
  // and the certificate and session checks are made when the transfer takes the connection.
  const early = (log: CapturedLog) => log.find('data connection: TLS handshake answered before the transfer command').length;

  for (const [name, setup, extra] of [
    ['require, resuming', { sessionReuse: 'require' }, []],
    ['require-or-client-cert, fresh sessions (--no-sessionid), same certificate', { sessionReuse: 'require-or-client-cert' }, ['--no-sessionid']],
    ['require, certificate required', { sessionReuse: 'require', required: true }, []],
  ] as const) {
    it(`${name}: upload and download byte-identical over early handshakes`, async () => {
      const debug = captureLog();
      const { t } = await certServer({ ...setup, extra: { logger: debug.logger } });
      const alice = pki.cert('alice');
      const args = ['--ssl-reqd', '--insecure', '--cert', alice.cert, '--key', alice.key, '--user', 'alice:', ...extra];
      const local = join(t.root, 'local.txt');
      await writeFile(local, 'early and certified\n');
      expectSuccess(await curl([...args, '-T', local, `ftp://${t.host}:${t.port}/up.txt`]));
      expect(await readFile(join(t.root, 'up.txt'), 'utf8')).toBe('early and certified\n');
      const down = expectSuccess(await curl([...args, `ftp://${t.host}:${t.port}/up.txt`]));
      expect(down.stdout).toBe('early and certified\n');
      expect(early(debug)).toBe(2);
    });
  }

  it('require-or-client-cert: a fresh early data connection without the certificate is refused (425)', async () => {
    const debug = captureLog();
    const { t } = await certServer({ sessionReuse: 'require-or-client-cert', extra: { logger: debug.logger } });
    const bob = pki.cert('bob');
    // bob logs in with certificate and password; curl presents the certificate on every connection,
    // but without session ids the data connection does not resume: let in by the same certificate.
    const ok = await curl(['--ssl-reqd', '--insecure', '--cert', bob.cert, '--key', bob.key, '--user', 'bob:bob-pw', '--no-sessionid', `ftp://${t.host}:${t.port}/`]);
    expectSuccess(ok);
    // dave: a password login, no certificate, a fresh data connection: nothing binds it.
    const r = await curl(['--ssl-reqd', '--insecure', '--user', 'dave:dave-pw', '--no-sessionid', `ftp://${t.host}:${t.port}/`]);
    expect(r.code).not.toBe(0);
    expect(debug.find('data connection refused: TLS session reuse')).toHaveLength(1);
  });
});

describe('client certificates: curl fails cleanly where it should', () => {
  it('curl with the expired certificate is not logged in', async () => {
    const { t } = await certServer();
    const old = pki.cert('alice-expired');
    expectFailure(await curl(['--ssl-reqd', '--insecure', '--cert', old.cert, '--key', old.key, '--user', 'alice:', `ftp://${t.host}:${t.port}/`]));
  });
});

describe('client certificates through createServer', () => {
  it('clientCerts files and a user with login: certificate and no password; the session view shows the certificate', async () => {
    const cert = await testCert();
    const root = await mkdtemp(join(tmpdir(), 'ftpsd-cc-embed-'));
    const server = createServer({
      listen: '127.0.0.1:0',
      root,
      tls: { cert: cert.cert, key: cert.key },
      clientCerts: { ca: pki.ca, crl: pki.crlDer, userName: 'email' },
      users: [{ name: 'alice.mail@example.org', login: 'certificate' }],
      limits: { loginFailureDelayMs: 10 },
    });
    try {
      const { explicit } = await server.listen();
      const t = { host: '127.0.0.1', port: explicit[0]!.port } as TestServer;
      const seen: unknown[] = [];
      server.on('login', () => seen.push(...server.sessions.list().map((s) => s.certificate?.subject)));
      expect(await py(t, { cert: 'alice-email', user: 'alice.mail@example.org', list: true })).toMatchObject({ user: '232', list: '226' });
      expect(seen).toEqual(['CN=somebody,OU=people,O=ftpsd tests']);
      expect(await py(t, { cert: 'alice', user: 'alice.mail@example.org' })).toMatchObject({ user: '331', pass: '530' });
    } finally {
      await server.close();
      await rm(root, { recursive: true, force: true });
    }
  });

  it('clientCerts without tls is refused with the field named', () => {
    expect(() => createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', root: '/tmp', users: [{ name: 'a', password: 'b' }], clientCerts: { ca: '/nonexistent' } })).toThrow(/clientCerts: needs tls/);
  });
});
