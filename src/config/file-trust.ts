/**
 * Ownership and mode checks on the files ftpsd trusts (OpenSSH's StrictModes, vsftpd's and ProFTPD's
 * checks): the config file, the certificate and its key, the state directory and the transfer log's
 * directory. A file that someone else could change (or a key someone else could read) is refused with
 * one line that names the file and the fix; `ftpsd serve` then does not start, and a reload keeps the
 * running config.
 *
 * Trusted owners are root and the user ftpsd was started as; for what the `runAs` user must be able
 * to use after the switch (key, certificate, state directory, the xferlog's directory) that user too.
 * The config file is never trusted to the `runAs` user: it decides what root does at the next start.
 * "Writable by others" means by a group or by everyone (the group's members are other users; a user's
 * private group with nobody else in it does not count, see private-group.ts); the
 * file's directory is checked the same way (whoever may write it can replace the file), for a
 * symlink both the link's directory and the real file's.
 */
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { isPrivateGroup } from './private-group.js';

/** The user ftpsd was started as (before any switch), read once when this module loads. */
const STARTED_AS = process.geteuid?.() ?? -1;

export class UntrustedFileError extends Error {
  override name = 'UntrustedFileError';
}

export type TrustedKind =
  | 'config file'
  | 'certificate'
  | 'key'
  | 'state directory'
  | 'xferlog'
  | 'client CA bundle'
  | 'CRL'
  | 'LDAP CA file'
  | 'LDAP bind password file';

/**
 * Who may own what ftpsd trusts: root, the user it was started as, the user it runs as now and (before
 * the switch) the `runAs` uid.
 */
export function trustedOwners(runAsUid?: number): Set<number> {
  const owners = configOwners();
  owners.add(process.geteuid?.() ?? -1);
  if (runAsUid !== undefined) owners.add(runAsUid);
  return owners;
}

/** Who may own the config file: root and the user ftpsd was started as (never the `runAs` user). */
export function configOwners(): Set<number> {
  return new Set([0, STARTED_AS]);
}

/** The certificate and key files (`tls`), or those of the state directory and the directory itself. */
export function checkCertificateFiles(
  files: { cert: string; key: string; stateDir?: string; clientCerts?: { ca: string; crl?: string } },
  owners: ReadonlySet<number>,
): void {
  if (files.stateDir !== undefined) checkTrusted(files.stateDir, 'state directory', owners);
  checkTrusted(files.cert, 'certificate', owners);
  checkTrusted(files.key, 'key', owners);
  // Whoever may write the client CA bundle may add a CA and log in as anyone; the CRL file, unrevoke.
  if (files.clientCerts) checkTrusted(files.clientCerts.ca, 'client CA bundle', owners);
  if (files.clientCerts?.crl !== undefined) checkTrusted(files.clientCerts.crl, 'CRL', owners);
}

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/** What is wrong with `st` (one phrase with the fix), or undefined. `label` names it (`key /x/key.pem`). */
export function modeProblem(label: string, path: string, st: Stats, owners: ReadonlySet<number>, secret = false): string | undefined {
  if (!owners.has(st.uid)) return `${label} is owned by uid ${st.uid}, not root or the user ftpsd runs as: chown root ${path}`;
  const groupWrites = (st.mode & 0o020) !== 0 && !isPrivateGroup(st.uid, st.gid);
  if ((st.mode & 0o002) !== 0 || groupWrites) return `${label} is writable by others (mode ${octal(st.mode)}): chmod go-w ${path}`;
  if (secret && (st.mode & 0o007) !== 0) return `${label} is readable by others (mode ${octal(st.mode)}): chmod 600 ${path} (or 640 with the runAs user's group)`;
  return undefined;
}

/**
 * Checks `path` (followed through symlinks), its directory and, for a symlink, the link's directory.
 * Throws an UntrustedFileError naming the first problem; a missing file is left to the caller.
 */
export function checkTrusted(path: string, kind: TrustedKind, owners: ReadonlySet<number>): void {
  let st: Stats;
  let real: string;
  try {
    st = statSync(path);
    real = realpathSync(path);
  } catch {
    // Not there (the caller's read says so, or creates it): then whoever may write its directory must be trusted.
    const problem = dirProblem(dirname(path), kind, owners);
    if (problem) throw new UntrustedFileError(problem);
    return;
  }
  const problem =
    modeProblem(`${kind} ${path}`, path, st, owners, kind === 'key' || kind === 'LDAP bind password file') ??
    dirProblem(dirname(real), kind, owners) ??
    (real !== path && lstatSync(path).isSymbolicLink() ? dirProblem(dirname(path), kind, owners) : undefined);
  if (problem) throw new UntrustedFileError(problem);
}

/** The directory holding a trusted file; a sticky one (/tmp) may be writable by all, as only owners rename there. */
export function dirProblem(dir: string, kind: TrustedKind, owners: ReadonlySet<number>): string | undefined {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    return undefined;
  }
  if ((st.mode & 0o1000) !== 0 && owners.has(st.uid)) return undefined;
  return modeProblem(`the directory of the ${kind}, ${dir},`, dir, st, owners);
}
