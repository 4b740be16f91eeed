/**
 * What ACME keeps in the state directory, under `acme/` (0700): the account key (`account-key.pem`)
 * and the certificate chain and its key (`cert.pem`, `key.pem`); every file 0600, written through a temporary file and a rename so a reader never sees half a file. The pair
 * is reused across restarts as long as it is valid and covers the configured names.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chown, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AcmePaths {
  dir: string;
  accountKey: string;
  cert: string;
  key: string;
}

export function acmePaths(stateDir: string): AcmePaths {
  const dir = join(stateDir, 'acme');
  return { dir, accountKey: join(dir, 'account-key.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** A certificate ACME gave, as read back from the store. */
export interface StoredCertificate {
  cert: string;
  key: string;
  names: string[];
  fingerprint256: string;
  validFrom: Date;
  validTo: Date;
}

/** The DNS names and IP addresses of a certificate's SAN. */
export function certificateNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .map((entry) => /^(?:DNS|IP Address):(.+)$/.exec(entry.trim())?.[1])
    .filter((n): n is string => n !== undefined);
}

/** Reads a PEM chain and key, checks they belong together, and describes the leaf. Throws on a bad pair. */
export function describePair(cert: string, key: string): StoredCertificate {
  const x509 = new X509Certificate(cert);
  if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
  return { cert, key, names: certificateNames(x509), fingerprint256: x509.fingerprint256, validFrom: new Date(x509.validFrom), validTo: new Date(x509.validTo) };
}

export type StoredLookup = { ok: true; stored: StoredCertificate } | { ok: false; why: string; stored?: StoredCertificate };

/** The stored pair, if it is there, valid now and covers `domains`; otherwise why not (for the log). */
export async function readStored(paths: AcmePaths, domains: readonly string[], now = new Date()): Promise<StoredLookup> {
  let cert: string;
  let key: string;
  try {
    [cert, key] = await Promise.all([readFile(paths.cert, 'utf8'), readFile(paths.key, 'utf8')]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, why: code === 'ENOENT' ? 'no certificate from the CA yet' : `cannot read ${paths.cert}: ${code ?? (err as Error).message}` };
  }
  let stored: StoredCertificate;
  try {
    stored = describePair(cert, key);
  } catch (err) {
    return { ok: false, why: `the stored certificate is unusable (${(err as Error).message})` };
  }
  const missing = domains.filter((d) => !stored.names.includes(d.toLowerCase()) && !stored.names.includes(d));
  if (missing.length > 0) return { ok: false, why: `the stored certificate does not cover ${missing.join(', ')}`, stored };
  if (stored.validTo <= now) return { ok: false, why: `the stored certificate expired on ${stored.validTo.toISOString()}`, stored };
  return { ok: true, stored };
}

/** With runAs, who must be able to read the files (cluster workers run as that user). */
export interface FileOwner {
  uid: number;
  gid: number;
}

async function writeSecret(path: string, data: string, owner?: FileOwner): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
    if (owner && process.geteuid?.() === 0) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new Error(`cannot write ${path}: ${(err as Error).message}`);
  }
}

async function ensureDir(paths: AcmePaths): Promise<void> {
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
}

/** Stores a new pair: the key first, then the chain (a reader that sees the new chain finds its key). */
export async function writeCertificate(paths: AcmePaths, cert: string, key: string, owner?: FileOwner): Promise<void> {
  await ensureDir(paths);
  await writeSecret(paths.key, key, owner);
  await writeSecret(paths.cert, cert, owner);
}

/** The account key, created (ECDSA P-256) on first use. */
export async function accountKey(paths: AcmePaths): Promise<string> {
  try {
    return await readFile(paths.accountKey, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${paths.accountKey}: ${(err as Error).message}`);
  }
  await ensureDir(paths);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeSecret(paths.accountKey, pem);
  return pem;
}
