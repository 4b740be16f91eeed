/**
 * What a logged-in user may do. Handlers never check this themselves: each command names the permission
 * it needs (`perm` in its definition) and the dispatcher asks `allows()` with the resolved path.
 */
import type { VirtualPath } from '../base/virtual-path.js';

/** Every permission. */
export const PERMISSIONS = [
  'list',
  'read',
  'write',
  'append',
  'delete',
  'rename',
  'mkdir',
  'rmdir',
  'chmod',
  'settime',
] as const;

/** One thing a user may do: `list`, `read`, `write`, `append`, `delete`, `rename`, `mkdir`, `rmdir`, `chmod`, `settime`. */
export type Permission = (typeof PERMISSIONS)[number];

/** What a user may do where. Returned by the authenticator with the user's storage. */
export interface Permissions {
  /** Whether `op` is allowed on `path` (the entry itself: a file, or a directory). */
  allows(op: Permission, path: VirtualPath): boolean;
  /**
   * Optional: true when every path below `path` has the same permissions as `path` itself (no
   * per-directory rule inside it). SITE SYMLINK links a directory only when this says so for both the
   * target and the link, since a link carries the rules of its own place over the target's subtree;
   * without this method, directory links are refused.
   */
  uniformBelow?(path: VirtualPath): boolean;
}

/** Whether `to` allows something that `from` does not (a link or a rename would widen what the user may do). */
export function widens(perms: Permissions, from: VirtualPath, to: VirtualPath): boolean {
  return PERMISSIONS.some((op) => perms.allows(op, to) && !perms.allows(op, from));
}

const READ_ONLY: ReadonlySet<Permission> = new Set(['list', 'read']);
const READ_WRITE: ReadonlySet<Permission> = new Set(PERMISSIONS);

/** A fixed set of permissions, the same everywhere. */
export function permissionSet(ops: Iterable<Permission>): Permissions {
  const set = new Set(ops);
  return { allows: (op) => set.has(op), uniformBelow: () => true };
}

/** `list` and `read` everywhere. */
export const readOnly: Permissions = { allows: (op) => READ_ONLY.has(op), uniformBelow: () => true };
/** Every permission everywhere. */
export const readWrite: Permissions = { allows: (op) => READ_WRITE.has(op), uniformBelow: () => true };
