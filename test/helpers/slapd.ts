/**
 * A real OpenLDAP slapd for tests: back_mdb in a temp dir, loaded with `slapadd`, listening on loopback
 * on free ports (ldap:// and, with TLS, ldaps://; StartTLS on the ldap:// port). `stop()` and `start()`
 * again (same ports, same data) simulate an outage. Debian's slapd and ldap-utils (.ci/run installs them).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './temp-dirs.js';

const run = promisify(execFile);

export const SLAPD = '/usr/sbin/slapd';
export const SLAPADD = '/usr/sbin/slapadd';
export const SCHEMA_DIR = '/etc/ldap/schema';
export const SUFFIX = 'dc=example,dc=test';
export const READER_DN = `cn=reader,${SUFFIX}`;
export const READER_PASSWORD = 'reader-secret';

export function hasSlapd(): boolean {
  return existsSync(SLAPD) && existsSync(SLAPADD) && existsSync(join(SCHEMA_DIR, 'inetorgperson.schema'));
}

export interface SlapdTls {
  ca: string;
  cert: string;
  key: string;
}

export interface Slapd {
  url: string;
  /** With TLS: the ldaps:// URL. */
  ldapsUrl: string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A free loopback port (bound, read, closed). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Starts slapd with `ldif` (entries under SUFFIX; the suffix entry and READER_DN are added). */
export async function startSlapd(ldif: string, tls?: SlapdTls): Promise<Slapd> {
  const dir = await tempDir('ftpsd-slapd-');
  await mkdir(join(dir, 'db'));
  const conf = join(dir, 'slapd.conf');
  await writeFile(
    conf,
    [
      ...['core', 'cosine', 'inetorgperson', 'nis'].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      'moduleload memberof',
      `pidfile ${join(dir, 'slapd.pid')}`,
      ...(tls ? [`TLSCACertificateFile ${tls.ca}`, `TLSCertificateFile ${tls.cert}`, `TLSCertificateKeyFile ${tls.key}`] : []),
      'database mdb',
      `suffix "${SUFFIX}"`,
      `rootdn "cn=admin,${SUFFIX}"`,
      `directory ${join(dir, 'db')}`,
      'maxsize 10485760',
      'overlay memberof',
      'access to attrs=userPassword by anonymous auth by self read by * none',
      'access to * by * read',
      '',
    ].join('\n'),
  );
  const base = [
    `dn: ${SUFFIX}`,
    'objectClass: dcObject',
    'objectClass: organization',
    'o: example',
    'dc: example',
    '',
    `dn: ${READER_DN}`,
    'objectClass: person',
    'cn: reader',
    'sn: reader',
    `userPassword: ${READER_PASSWORD}`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'data.ldif'), base + '\n' + ldif);
  await run(SLAPADD, ['-f', conf, '-l', join(dir, 'data.ldif')], { timeout: 20_000 });

  const port = await freePort();
  const tlsPort = tls ? await freePort() : undefined;
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = tlsPort === undefined ? undefined : `ldaps://127.0.0.1:${tlsPort}`;
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const urls = [url + '/', ...(ldapsUrl ? [ldapsUrl + '/'] : [])].join(' ');
    const c = spawn(SLAPD, ['-d', '0', '-h', urls, '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let stderr = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`slapd exited ${c.exitCode}: ${stderr}`);
      if (await listening(port)) return;
      if (Date.now() > deadline) throw new Error(`slapd did not listen: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function stop(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  await start();
  return { url, ldapsUrl, start, stop };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
