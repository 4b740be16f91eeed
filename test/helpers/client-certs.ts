/**
 * Client certificates made by the tests with `openssl`: a client CA, a rogue CA with the very same
 * subject names, certificates for alice and bob, an expired one, a revoked one (in the CA's CRL, PEM
 * and DER), and one signed by the rogue CA. All in a temp directory, files named by what they are.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface ClientPki {
  dir: string;
  /** The client CA's certificate (the `clientCerts.ca` bundle). */
  ca: string;
  /** CRLs of the CA (alice-revoked is in it): PEM and DER. */
  crlPem: string;
  crlDer: string;
  /** A CRL of the CA with nothing revoked (PEM). */
  crlEmpty: string;
  /** Certificate and key files, by name: alice, bob, alice-expired, alice-revoked, alice-rogue (signed by the rogue CA). */
  cert(name: CertName): { cert: string; key: string; pem: string; fingerprint: string };
}

export type CertName = 'alice' | 'bob' | 'alice-expired' | 'alice-revoked' | 'alice-rogue' | 'alice-email';

async function openssl(args: string[], cwd: string): Promise<string> {
  const { stdout } = await exec('openssl', args, { cwd, timeout: 30_000 });
  return stdout;
}

const CA_EXT = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n';
const LEAF_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';

let made: Promise<ClientPki> | undefined;

/** The PKI, made once per test process. */
export function clientPki(): Promise<ClientPki> {
  made ??= makePki();
  return made;
}

async function makePki(): Promise<ClientPki> {
  const dir = await mkdtemp(join(tmpdir(), 'ftpsd-pki-'));
  await writeFile(join(dir, 'ca.ext'), CA_EXT);
  await writeFile(join(dir, 'leaf.ext'), LEAF_EXT);
  await writeFile(join(dir, 'email.ext'), `${LEAF_EXT}subjectAltName=DNS:host.example,email:alice.mail@example.org\n`);
  const key = (name: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  for (const ca of ['ca', 'rogue']) {
    await key(ca);
    // Same subject for both CAs: only the signature tells them apart.
    await openssl(['req', '-new', '-x509', '-key', `${ca}.key`, '-subj', '/O=ftpsd tests/CN=ftpsd test client CA', '-days', '30', '-out', `${ca}.crt`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  }
  const leaf = async (name: string, cn: string, ca: string, extra: string[] = [], ext = 'leaf.ext') => {
    await key(name);
    await openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/O=ftpsd tests/OU=people/CN=${cn}`, '-out', `${name}.csr`], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-extfile', ext, '-out', `${name}.crt`, ...extra], dir);
  };
  await leaf('alice', 'alice', 'ca', ['-days', '30']);
  await leaf('bob', 'bob', 'ca', ['-days', '30']);
  await leaf('alice-revoked', 'alice', 'ca', ['-days', '30']);
  await leaf('alice-rogue', 'alice', 'rogue', ['-days', '30']);
  await leaf('alice-email', 'somebody', 'ca', ['-days', '30'], 'email.ext');
  // Expired: valid for one day, a week ago (x509 -not_before/-not_after need OpenSSL 3.4; use a CA database instead).
  await key('alice-expired');
  await openssl(['req', '-new', '-key', 'alice-expired.key', '-subj', '/O=ftpsd tests/OU=people/CN=alice', '-out', 'alice-expired.csr'], dir);
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir',
      'certificate = $dir/ca.crt',
      'private_key = $dir/ca.key',
      'serial = $dir/ca.srl',
      'crlnumber = $dir/crlnumber',
      'default_md = sha256',
      'default_crl_days = 30',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      '[any]',
      'organizationName = optional',
      'organizationalUnitName = optional',
      'commonName = supplied',
      '[leaf]',
      ...LEAF_EXT.trim().split('\n'),
    ].join('\n') + '\n',
  );
  const weekAgo = new Date(Date.now() - 7 * 86_400_000);
  const dayAfter = new Date(weekAgo.getTime() + 86_400_000);
  const asn1 = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  await openssl(['ca', '-batch', '-config', 'ca.cnf', '-extensions', 'leaf', '-in', 'alice-expired.csr', '-startdate', asn1(weekAgo), '-enddate', asn1(dayAfter), '-out', 'alice-expired.crt', '-notext'], dir);
  await openssl(['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl-empty.pem'], dir);
  await openssl(['ca', '-config', 'ca.cnf', '-revoke', 'alice-revoked.crt'], dir);
  await openssl(['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem'], dir);
  await openssl(['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der'], dir);
  const prints = new Map<string, string>();
  for (const name of ['alice', 'bob', 'alice-expired', 'alice-revoked', 'alice-rogue', 'alice-email']) {
    const out = await openssl(['x509', '-in', `${name}.crt`, '-noout', '-fingerprint', '-sha256'], dir);
    prints.set(name, out.trim().split('=')[1]!);
  }
  const pems = new Map<string, string>();
  for (const name of prints.keys()) pems.set(name, await readFile(join(dir, `${name}.crt`), 'utf8'));
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    crlPem: join(dir, 'crl.pem'),
    crlDer: join(dir, 'crl.der'),
    crlEmpty: join(dir, 'crl-empty.pem'),
    cert: (name) => ({ cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), pem: pems.get(name)!, fingerprint: prints.get(name)! }),
  };
}
