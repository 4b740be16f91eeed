/**
 * What a logged-in user may do. Handlers never check this themselves: each command names the permission
 * it needs (`perm` in its definition) and the dispatcher asks `allows()` with the resolved path.
 */
import type { VirtualPath } from '../storage/virtual-path.js';

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

export type Permission = (typeof PERMISSIONS)[number];

export interface Permissions {
  allows(op: Permission, path: VirtualPath): boolean;
}

const READ_ONLY: ReadonlySet<Permission> = new Set(['list', 'read']);
const READ_WRITE: ReadonlySet<Permission> = new Set(PERMISSIONS);

/** A fixed set of permissions, the same everywhere. */
export function permissionSet(ops: Iterable<Permission>): Permissions {
  const set = new Set(ops);
  return { allows: (op) => set.has(op) };
}

export const readOnly: Permissions = { allows: (op) => READ_ONLY.has(op) };
export const readWrite: Permissions = { allows: (op) => READ_WRITE.has(op) };
