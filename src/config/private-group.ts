/**
 * User private groups (Debian's and Ubuntu's `USERGROUPS_ENAB`, under which a login umask of 002 is
 * common): a file writable by its group is as safe as one writable by its owner alone when that group
 * is the owner's own group with nobody else in it. Debian's OpenSSH relaxes StrictModes the same way.
 * Here "nobody else" means: the group's member list (`/etc/group`) names no other user, and no other
 * user of `/etc/passwd` has it as primary group. When those files cannot be read the answer is no.
 */
import { readFileSync } from 'node:fs';

function table(path: string): string[][] {
  // Bounded: these files are small; a huge one (not a real user database) is treated as unreadable.
  const text = readFileSync(path, 'utf8');
  if (text.length > 8 * 1024 * 1024) throw new Error(`${path} is too large`);
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).map((line) => line.split(':'));
}

/** Read afresh at each check (only group-writable files get here): a membership change counts at once. */
function tables(): { passwd: string[][]; group: string[][] } | undefined {
  try {
    return { passwd: table('/etc/passwd'), group: table('/etc/group') };
  } catch {
    return undefined;
  }
}

/** True when `gid` is the private group of `uid`: its primary group, shared with no other user. */
export function isPrivateGroup(uid: number, gid: number): boolean {
  const t = tables();
  if (t === undefined) return false;
  const owner = t.passwd.find((f) => Number(f[2]) === uid);
  if (owner === undefined || Number(owner[3]) !== gid) return false;
  if (t.passwd.some((f) => Number(f[3]) === gid && Number(f[2]) !== uid)) return false;
  const group = t.group.find((f) => Number(f[2]) === gid);
  if (group === undefined) return false;
  const members = (group[3] ?? '').split(',').filter((m) => m !== '');
  return members.every((m) => m === owner[0]);
}
