/**
 * Creating, as root, the directories the `runAs` user must own (the served root, the homes), without
 * ever changing ownership by path: a user who can write a parent could otherwise rename the new
 * directory between the mkdir and the chown and plant a symlink to a root-only file in its place, which
 * the chown would then give away.
 *
 * Each missing component is created in one of two ways:
 * - its parent and every directory above it are root's alone (owned by root, writable by nobody else,
 *   or sticky): nobody else can touch the new entry, so root creates it, opens it with
 *   O_NOFOLLOW|O_DIRECTORY, checks on the descriptor that it is the root-owned directory just made, and
 *   `fchown`s the descriptor;
 * - otherwise (a parent someone else may write, or one of those created for the user): it is created
 *   with the user's effective ids (seteuid), so it is the user's from the start and a planted symlink
 *   gets nothing the user could not do anyway. Where the user may not create it, the start fails with
 *   a line saying so.
 * Directories that exist are left as they are.
 */
import { closeSync, constants, fstatSync, fchownSync, lstatSync, mkdirSync, openSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, parse, sep } from 'node:path';

export interface Owner {
  uid: number;
  gid: number;
  /** The user's name, for messages. */
  name?: string | undefined;
}

/** Creates `path` and its missing parents for `owner`; returns the directories created, parents first. */
export function makeOwnedDir(path: string, owner: Owner): string[] {
  const missing: string[] = [];
  let existing = path;
  while (!exists(existing)) {
    missing.unshift(existing);
    const up = dirname(existing);
    if (up === existing) break;
    existing = up;
  }
  if (!statSync(existing).isDirectory()) throw Object.assign(new Error(`${existing}: not a directory`), { code: 'ENOTDIR' });
  const created: string[] = [];
  let parent = realpathSync(existing);
  let rootOnly = rootOnlyChain(parent);
  for (const wanted of missing) {
    const dir = join(parent, basename(wanted));
    if (rootOnly) createAsRoot(dir, owner);
    else createAs(dir, owner);
    created.push(wanted);
    parent = dir;
    rootOnly = false; // the user's from here down
  }
  return created;
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** True when `dir` (a real path) and every directory above it can be changed by root alone. */
export function rootOnlyChain(dir: string): boolean {
  const { root } = parse(dir);
  let p = root;
  for (const part of ['', ...dir.slice(root.length).split(sep).filter(Boolean)]) {
    p = part === '' ? p : join(p, part);
    const st = lstatSync(p);
    if (st.uid !== 0 || st.isSymbolicLink()) return false;
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return false;
  }
  return true;
}

function createAsRoot(dir: string, owner: Owner): void {
  mkdirSync(dir);
  const made = lstatSync(dir);
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    const st = fstatSync(fd);
    if (!st.isDirectory() || st.uid !== 0 || st.dev !== made.dev || st.ino !== made.ino) {
      throw new Error('it was replaced while it was being created');
    }
    fchownSync(fd, owner.uid, owner.gid);
  } finally {
    closeSync(fd);
  }
}

/**
 * mkdir with the owner's effective ids and groups (as it will run), back to root's afterwards.
 * Synchronous: the ids are the whole process's, so nothing else may run meanwhile.
 */
function createAs(dir: string, owner: Owner): void {
  const groups = process.getgroups!();
  const egid = process.getegid!();
  // initgroups is in Node (POSIX) but not in @types/node.
  const initgroups = (process as { initgroups?: (user: string, extraGroup: number) => void }).initgroups;
  try {
    if (owner.name !== undefined && initgroups) initgroups(owner.name, owner.gid);
    else process.setgroups!([owner.gid]);
    process.setegid!(owner.gid);
    process.seteuid!(owner.uid);
    mkdirSync(dir);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      const who = owner.name ?? `uid ${owner.uid}`;
      throw new Error(`${who} (runAs) may not create it (its parent is not root's alone, so ftpsd creates it as ${who}): create it and give it to ${who}`);
    }
    throw err;
  } finally {
    if (process.geteuid!() !== 0) process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
}
