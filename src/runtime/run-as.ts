/**
 * Running as an unprivileged user after the privileged work is done (`runAs`, `--run-as-user`): ftpsd
 * starts as root, binds its ports (21 and 990 are below 1024), reads the certificate and key, creates
 * the served directories for that user (src/config/owned-dir.ts: never a chown by path), and then switches for good to the given user and group (supplementary groups from
 * the group database, then the group, then the user, so there is no way back). Files created afterwards,
 * uploads among them, belong to that user.
 *
 * Users and groups are names (looked up in /etc/passwd and /etc/group, then through `getent` for NSS
 * sources such as LDAP) or numeric ids.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Identity {
  /** The name, when the user has a passwd entry. */
  name: string | undefined;
  uid: number;
  gid: number;
}

export class RunAsError extends Error {
  override name = 'RunAsError';
}

interface Entry {
  name: string;
  id: number;
  /** passwd: the primary gid. */
  gid?: number;
}

/** Looks up a passwd or group entry by name or by id: the file first, then `getent`. */
function lookup(db: 'passwd' | 'group', key: string): Entry | undefined {
  const numeric = /^\d+$/.test(key);
  const parse = (line: string): Entry | undefined => {
    const f = line.split(':');
    if (f.length < 3 || f[0] === '' || !/^\d+$/.test(f[2]!)) return undefined;
    return { name: f[0]!, id: Number(f[2]), ...(db === 'passwd' && f[3] !== undefined && /^\d+$/.test(f[3]) ? { gid: Number(f[3]) } : {}) };
  };
  const matches = (e: Entry | undefined) => e !== undefined && (numeric ? e.id === Number(key) : e.name === key);
  try {
    for (const line of readFileSync(`/etc/${db}`, 'utf8').split('\n')) {
      const e = parse(line);
      if (matches(e)) return e;
    }
  } catch {
    // no such file: ask getent
  }
  try {
    const out = execFileSync('getent', [db, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const e = parse(out.split('\n')[0] ?? '');
    if (matches(e)) return e;
  } catch {
    // not found, or no getent
  }
  return undefined;
}

/** The uid and gid for `user` (name or uid) and `group` (name or gid; default: the user's primary group). */
export function resolveIdentity(user: string, group?: string): Identity {
  const numericUser = /^\d+$/.test(user);
  const pw = lookup('passwd', user);
  if (!pw && !numericUser) throw new RunAsError(`runAs: no such user "${user}"`);
  const uid = pw?.id ?? Number(user);
  let gid: number;
  if (group !== undefined) {
    const gr = lookup('group', group);
    if (!gr && !/^\d+$/.test(group)) throw new RunAsError(`runAs: no such group "${group}"`);
    gid = gr?.id ?? Number(group);
  } else if (pw?.gid !== undefined) {
    gid = pw.gid;
  } else {
    throw new RunAsError(`runAs: uid ${user} has no passwd entry: give the group too (runAs.group, --run-as-group)`);
  }
  if (uid === 0) throw new RunAsError('runAs: the user to run as must not be root');
  return { name: pw?.name, uid, gid };
}

/**
 * Switches the process to `id` for good: supplementary groups (those of the user's group entries, or
 * just `gid`), the group, then the user. Throws if any step fails or root could be regained.
 */
export function dropPrivileges(id: Identity): void {
  if (typeof process.setuid !== 'function' || typeof process.getuid !== 'function') {
    throw new RunAsError('runAs: switching users is not supported on this platform');
  }
  if (process.getuid() === id.uid && process.geteuid?.() === id.uid) return; // already there
  if (process.geteuid?.() !== 0) throw new RunAsError(`runAs: switching to uid ${id.uid} needs root (running as uid ${process.getuid()})`);
  try {
    // initgroups is in Node (POSIX) but not in @types/node.
    const initgroups = (process as { initgroups?: (user: string, extraGroup: number) => void }).initgroups;
    if (id.name !== undefined && initgroups) initgroups(id.name, id.gid);
    else process.setgroups!([id.gid]);
    process.setgid!(id.gid);
    process.setuid(id.uid);
  } catch (err) {
    throw new RunAsError(`runAs: cannot switch to uid ${id.uid} gid ${id.gid}: ${(err as Error).message}`);
  }
  let regained = false;
  try {
    process.setuid(0);
    regained = true;
  } catch {
    // expected: there is no way back
  }
  if (regained || process.getuid() !== id.uid || process.geteuid?.() !== id.uid || process.getgid?.() !== id.gid) {
    throw new RunAsError('runAs: the switch did not stick');
  }
}
