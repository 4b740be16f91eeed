/**
 * Certificates for the server: PEM files given by the user, or a self-signed ECDSA certificate kept in
 * the state directory (generated on first run, reused afterwards, regenerated once expired).
 * Key files are written with mode 0600, through a temporary file and a rename.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { GenerateOptions, GeneratedCert } from '../tls/self-signed.js';
import { ConfigError } from './errors.js';
import { certificateNames } from '../acme/store.js';

export interface Certificate {
  cert: string;
  key: string;
  /** `AB:CD:...`, as printed in the banner. */
  fingerprint256: string;
  certPath: string;
  keyPath: string;
  /** `file`: given by the user; `generated`: created now; `reused`: found in the state directory; `acme`: from the CA. */
  source: 'file' | 'generated' | 'reused' | 'acme';
  validTo: Date;
  /** The names of its SAN (DNS names, IP addresses). */
  names?: string[];
  /**
   * With ACME: the files reloads read (the CA's pair in the state directory), also while the self-signed
   * certificate is served until the first issuance; `pending` says why that one is served.
   */
  acme?: { cert: string; key: string; pending?: string };
}

/** Checks that `cert` is a certificate and `key` its private key; problems name the given fields. */
export function checkPair(cert: string, key: string, fields: { cert: string; key: string }): { fingerprint256: string; validTo: Date; names: string[] } {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw ConfigError.of(fields.cert, 'not a PEM certificate');
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch {
    throw ConfigError.of(fields.key, 'not a PEM private key (or encrypted)');
  }
  if (!matches) throw ConfigError.of(fields.key, 'does not belong to the certificate');
  return { fingerprint256: x509.fingerprint256, validTo: new Date(x509.validTo), names: certificateNames(x509) };
}

async function readPem(path: string, field: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw ConfigError.of(field, `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
}

/** The user's own certificate and key. */
export async function loadCertificate(certPath: string, keyPath: string, fields: { cert: string; key: string }): Promise<Certificate> {
  const cert = await readPem(certPath, fields.cert);
  const key = await readPem(keyPath, fields.key);
  return { cert, key, certPath, keyPath, source: 'file', ...checkPair(cert, key, fields) };
}

/** The self-signed certificate of the state directory, created when missing or expired. */
export async function stateCertificate(stateDir: string, now = new Date()): Promise<Certificate> {
  const certPath = join(stateDir, 'cert.pem');
  const keyPath = join(stateDir, 'key.pem');
  if ((await exists(certPath)) && (await exists(keyPath))) {
    const cert = await readPem(certPath, 'stateDir');
    const key = await readPem(keyPath, 'stateDir');
    let checked: ReturnType<typeof checkPair>;
    try {
      checked = checkPair(cert, key, { cert: 'cert', key: 'key' });
    } catch (err) {
      const why = err instanceof ConfigError ? err.message : String(err);
      throw ConfigError.of('stateDir', `${stateDir}: unusable cert.pem/key.pem (${why}); delete both to generate new ones`);
    }
    if (checked.validTo > now) return { cert, key, certPath, keyPath, source: 'reused', ...checked };
  }
  try {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw ConfigError.of('stateDir', `cannot create ${stateDir}: ${(err as Error).message}`);
  }
  const generated = await generate();
  await writePair(certPath, keyPath, generated);
  return { ...generated, certPath, keyPath, source: 'generated', ...described(generated.cert) };
}

/** Writes a new self-signed pair (for `ftpsd gen-cert`); refuses to replace files unless `force`. */
export async function generateCertificateFiles(
  certPath: string,
  keyPath: string,
  options: GenerateOptions & { force?: boolean } = {},
): Promise<Certificate> {
  if (!options.force) {
    for (const [path, field] of [[certPath, '--cert'], [keyPath, '--key']] as const) {
      if (await exists(path)) throw ConfigError.of(field, `${path} exists (use --force to replace it)`);
    }
  }
  const generated = await generate(options.names ? { names: options.names } : {});
  await writePair(certPath, keyPath, generated);
  return { ...generated, certPath, keyPath, source: 'generated', ...described(generated.cert) };
}

/** The generator pulls in @peculiar/x509 (slow to load), so it is loaded only when needed. */
async function generate(options: GenerateOptions = {}): Promise<GeneratedCert> {
  const entry = new URL('../tls/self-signed.js', import.meta.url);
  // Built (dist/): in a thread of its own, so the certificate library and its dependencies (about
  // 20 MiB, half of which stays after they ran) leave with the thread instead of staying in the server
  // for its whole life. From the sources (tests), in this thread.
  if (entry.pathname.endsWith('.js') && import.meta.url.endsWith('.js')) return generateInThread(entry, options);
  const { generateSelfSigned } = await import('../tls/self-signed.js');
  return generateSelfSigned(options);
}

/** How long the generation thread may take (an ECDSA P-256 pair and one signature: milliseconds). */
const GENERATE_TIMEOUT_MS = 60_000;

function generateInThread(entry: URL, options: GenerateOptions): Promise<GeneratedCert> {
  const code = `const { parentPort, workerData } = require('node:worker_threads');
import(workerData.entry).then((m) => m.generateSelfSigned(workerData.options)).then(
  (ok) => parentPort.postMessage({ ok }),
  (err) => parentPort.postMessage({ err: String((err && err.message) || err) }),
);`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { entry: entry.href, options } });
    const timer = setTimeout(() => finish(new Error('generating the self-signed certificate timed out')), GENERATE_TIMEOUT_MS);
    const finish = (err: Error | undefined, cert?: GeneratedCert) => {
      clearTimeout(timer);
      worker.removeAllListeners();
      worker.on('error', () => {});
      void worker.terminate();
      if (err) reject(err);
      else resolve(cert!);
    };
    worker.once('message', (m: { ok?: GeneratedCert; err?: string }) => finish(m.ok ? undefined : new Error(m.err ?? 'certificate generation failed'), m.ok));
    worker.once('error', (err) => finish(err));
    worker.once('exit', (code) => finish(new Error(`certificate generation ended (${code})`)));
  });
}

async function writePair(certPath: string, keyPath: string, pem: { cert: string; key: string }): Promise<void> {
  await writeAtomic(keyPath, pem.key, 0o600);
  await writeAtomic(certPath, pem.cert, 0o644);
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(err as Error).message}`);
  }
}

function described(cert: string): { validTo: Date; names: string[] } {
  const x509 = new X509Certificate(cert);
  return { validTo: new Date(x509.validTo), names: certificateNames(x509) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
