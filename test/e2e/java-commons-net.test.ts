/**
 * Apache commons-net FTPSClient (Java 17, JSSE) against a real ftpsd. JSSE keys its client session cache
 * by host and port, so a data connection (another port) never resumes the control connection's TLS
 * session: under session reuse `require` every protected transfer is refused (425), under `allow` it
 * works. What is tested here is that the Java client gets to read the 425 (the refused data connection is
 * closed with close_notify, not cut mid-handshake: before, TLS 1.2 failed with "Remote host terminated
 * the handshake"), and that `allow` lets it in (docs/troubleshooting.md). With a client certificate from
 * a PKCS#12 keystore, `require-or-client-cert` lets it in too (docs/authentication.md).
 *
 * The probe (java/FtpsProbe.java) is compiled once per run into a temp directory; skipped, with the
 * reason, when javac or commons-net (Debian: default-jdk-headless, libcommons-net-java) is missing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASS, RO_PASS, RO_USER, USER, testCert } from '../helpers/server.js';
import { clientPki } from '../helpers/client-certs.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import { describeRun, expectSuccess, run, tempDir, withServer, type TempDir } from './helpers.js';

const JAR = '/usr/share/java/commons-net.jar';
const SOURCE = new URL('./java/FtpsProbe.java', import.meta.url).pathname;
const hasJava = spawnSync('javac', ['-version'], { stdio: 'ignore' }).status === 0 && existsSync(JAR);
if (!hasJava) console.warn(`Java commons-net tests skipped: needs javac and ${JAR} (Debian: default-jdk-headless, libcommons-net-java)`);

interface ProbeResult {
  download: string | null;
  downloaded: string | null;
  upload: string | null;
  error: string | null;
}

describe.skipIf(!hasJava)('Apache commons-net FTPSClient', () => {
  let classes: TempDir;
  beforeAll(async () => {
    classes = await tempDir('ftpsd-java-');
    expectSuccess(await run('javac', ['-d', classes.path, '-cp', JAR, SOURCE], { timeoutMs: 60_000 }));
  });
  afterAll(() => classes?.remove());

  async function probe(port: number, mode: 'explicit' | 'implicit', version: 'TLSv1.2' | 'TLSv1.3', login: { user: string; pass: string; keystore?: string } = { user: USER, pass: PASS }): Promise<ProbeResult> {
    const keystore = login.keystore ? [login.keystore] : [];
    const r = expectSuccess(
      await run('java', ['-cp', `${JAR}:${classes.path}`, 'FtpsProbe', '127.0.0.1', String(port), login.user, login.pass, mode, version, 'hello.txt', ...keystore], { timeoutMs: 60_000 }),
    );
    const last = r.stdout.trim().split('\n').at(-1)!;
    try {
      return JSON.parse(last) as ProbeResult;
    } catch {
      throw new Error(describeRun(r));
    }
  }

  for (const reuse of ['require', 'allow'] as const) {
    describe(`sessionReuse: ${reuse}`, () => {
      const server = withServer({ implicit: true, tlsRequired: 'login', sessionReuse: reuse });
      beforeAll(() => writeFile(join(server().root, 'hello.txt'), 'hello from ftpsd'));

      for (const [mode, version] of [['explicit', 'TLSv1.3'], ['explicit', 'TLSv1.2'], ['implicit', 'TLSv1.3']] as const) {
        it(`${mode} ${version}: ${reuse === 'require' ? 'the client reads the 425 with its reason' : 'download and upload work'}`, async () => {
          const t = server();
          const res = await probe(mode === 'implicit' ? t.implicitPort! : t.port, mode, version);
          expect(res.error).toBeNull();
          if (reuse === 'require') {
            expect(res.download).toMatch(/^425 Data connection refused: TLS session reuse required/);
            // The upload's data connection goes to the same passive port as the download's (one listener per
            // session), and JSSE, caching sessions per host and port, may resume the refused download's
            // session under TLS 1.2: refused as well, for that reason.
            expect(res.upload).toMatch(/^425 Data connection refused: (TLS session reuse required|it resumed a TLS session other than the control connection's)/);
          } else {
            expect(res.download).toMatch(/^226 /);
            expect(res.downloaded).toBe('hello from ftpsd');
            expect(res.upload).toMatch(/^226 /);
            expect(await readFile(join(t.root, 'from-java.txt'), 'utf8')).toBe('uploaded by commons-net');
          }
        });
      }
    });
  }

  // JSSE never resumes on data connections; its client certificate on each of them binds them instead.
  describe('sessionReuse: require-or-client-cert, with a client certificate from a PKCS#12 keystore', () => {
    let keystore: string;
    let ca: Buffer;
    beforeAll(async () => {
      const pki = await clientPki();
      const alice = pki.cert('alice');
      keystore = join(pki.dir, 'alice.p12');
      expectSuccess(await run('openssl', ['pkcs12', '-export', '-in', alice.cert, '-inkey', alice.key, '-passout', 'pass:changeit', '-out', keystore]));
      ca = await readFile(pki.ca);
    }, 60_000);
    const server = withServer({ implicit: true, tlsRequired: 'login', sessionReuse: 'require-or-client-cert' });
    beforeAll(async () => {
      const t = server();
      const cert = await testCert();
      t.server.reconfigure({
        tls: { cert: cert.cert, key: cert.key, clientCerts: { ca } },
        authenticator: new UserAuthenticator([
          { name: 'alice', login: 'certificate', home: t.root },
          { name: RO_USER, password: { plain: RO_PASS }, home: t.root },
        ]),
      });
      await writeFile(join(t.root, 'hello.txt'), 'hello from ftpsd');
    });

    for (const [mode, version] of [['explicit', 'TLSv1.3'], ['explicit', 'TLSv1.2'], ['implicit', 'TLSv1.3']] as const) {
      it(`${mode} ${version}: login by certificate alone, download and upload over fresh data sessions`, async () => {
        const t = server();
        const res = await probe(mode === 'implicit' ? t.implicitPort! : t.port, mode, version, { user: 'alice', pass: '', keystore });
        expect(res.error).toBeNull();
        expect(res.download).toMatch(/^226 /);
        expect(res.downloaded).toBe('hello from ftpsd');
        expect(res.upload).toMatch(/^226 /);
      });
    }

    it('without a certificate the same client is still refused (a password login has nothing to bind with)', async () => {
      const t = server();
      const res = await probe(t.port, 'explicit', 'TLSv1.3', { user: RO_USER, pass: RO_PASS });
      expect(res.error).toBeNull();
      expect(res.download).toMatch(/^425 /);
    });
  });
});
