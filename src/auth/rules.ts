/**
 * Per-user permissions with per-directory rules: a user has a base set of permissions (everything, or
 * list + read for read-only users), and rules change it below a path:
 *
 * ```yaml
 * permissions: [list, read, write, append, delete, rename, mkdir, rmdir, chmod, settime]
 * rules:
 *   - { path: /incoming, allow: [write, mkdir], deny: [read, list, delete] }   # a drop box
 *   - { path: /releases, deny: [write, append, delete, rename, mkdir, rmdir, chmod, settime] }
 * ```
 *
 * A rule applies to its path and everything below it. For each permission, the most specific (longest)
 * rule whose path contains the entry and that names the permission (in `allow` or `deny`) decides; a rule
 * that does not name it leaves it to the next shorter rule, and finally to the base set. So a nested rule
 * only changes what it names: `/incoming/public: {allow: [read, list]}` opens reading below /incoming
 * while /incoming's `deny: [delete]` still holds there.
 *
 * A rule that denies `write` or `delete` also denies the permissions that change or take away an entry
 * that is already there (`append rename rmdir chmod settime`; much as ProFTPD's WRITE group), unless it names
 * them itself: the drop box above keeps everyone's uploads as they are (no APPE, RNFR, SITE CHMOD or MFMT
 * on them) without listing every permission. Only denials are implied, never grants.
 *
 * Renaming a directory that contains a rule's path is refused: it would carry the protected subtree to
 * a name no rule covers. Rules match the path the client names, not where symlinks inside the home lead:
 * a link from an open area into a protected one is a way around them (ftpsd clients cannot make links).
 */
import { FtpError } from '../base/errors.js';
import { isInside, resolvePath, type VirtualPath } from '../base/virtual-path.js';
import { PERMISSIONS, type Permission, type Permissions } from './permissions.js';

export interface PermissionRule {
  /** A path in the user's home as the client sees it (`/incoming`); the rule covers everything below. */
  readonly path: string;
  readonly allow?: readonly Permission[];
  readonly deny?: readonly Permission[];
}

/** What a rule denying `write` or `delete` denies too, unless it names them (see above). */
export const CHANGES_EXISTING: readonly Permission[] = ['append', 'rename', 'rmdir', 'chmod', 'settime'];

interface CompiledRule {
  readonly path: VirtualPath;
  readonly allow: ReadonlySet<Permission>;
  readonly deny: ReadonlySet<Permission>;
}

/** Normalises a rule path (`incoming/`, `/incoming`, `//incoming/.` are the same); throws on a bad one. */
export function rulePath(path: string): VirtualPath {
  try {
    return resolvePath([], path);
  } catch (err) {
    if (err instanceof FtpError) throw new Error(`invalid rule path: ${JSON.stringify(path)}`);
    throw err;
  }
}

export class RulePermissions implements Permissions {
  private readonly base: ReadonlySet<Permission>;
  /** Longest path first. */
  private readonly rules: readonly CompiledRule[];

  constructor(base: Iterable<Permission>, rules: readonly PermissionRule[] = []) {
    this.base = new Set(base);
    const seen = new Set<string>();
    const compiled = rules.map((r) => {
      const rule = { path: rulePath(r.path), allow: new Set(r.allow ?? []), deny: new Set(r.deny ?? []) };
      const key = rule.path.join('/');
      if (seen.has(key)) throw new Error(`two rules for the same path: /${key}`);
      seen.add(key);
      const both = [...rule.allow].filter((p) => rule.deny.has(p));
      if (both.length > 0) throw new Error(`rule /${key} both allows and denies ${both.join(', ')}`);
      if (rule.deny.has('write') || rule.deny.has('delete')) {
        for (const op of CHANGES_EXISTING) if (!rule.allow.has(op)) rule.deny.add(op);
      }
      return rule;
    });
    this.rules = compiled.sort((a, b) => b.path.length - a.path.length);
  }

  allows(op: Permission, path: VirtualPath): boolean {
    if (op === 'rename' && this.rules.some((r) => r.path.length > path.length && isInside(r.path, path))) return false;
    for (const rule of this.rules) {
      if (!isInside(path, rule.path)) continue;
      if (rule.deny.has(op)) return false;
      if (rule.allow.has(op)) return true;
    }
    return this.base.has(op);
  }

  /** No rule applies strictly below `path` (so its whole subtree has the permissions of `path`). */
  uniformBelow(path: VirtualPath): boolean {
    return !this.rules.some((r) => r.path.length > path.length && isInside(r.path, path));
  }

  /** Every permission in effect at `path` (for diagnostics and tests). */
  effective(path: VirtualPath): Permission[] {
    return PERMISSIONS.filter((op) => this.allows(op, path));
  }
}

/** The default base set: every permission, or list + read for a read-only user. */
export function defaultPermissions(readOnly: boolean): readonly Permission[] {
  return readOnly ? ['list', 'read'] : PERMISSIONS;
}
