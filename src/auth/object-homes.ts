/**
 * Homes below an `s3://BUCKET[/PREFIX]` root for the users the config file does not name (the user
 * database, LDAP, the auth hook): key prefixes below the served bucket/prefix, confined to it as the
 * config users' homes are. The home as the source gives it:
 *
 * - a path (`alice`, `/alice`, `/srv/ftp/alice`): the key prefix below the root with that name
 *   (`/srv/ftp/alice` is `s3://BUCKET/PREFIX/srv/ftp/alice`, as for a config user);
 * - an `s3://` URL: must be the root or lie below it (`s3://BUCKET/PREFIX/alice`); another bucket or
 *   prefix is refused;
 * - a `.` or `..` segment, a NUL, a backslash: refused (a key named `..` is no way out of the prefix in S3,
 *   but it would be one on a disk, and nobody means it).
 *
 * One storage per prefix, so every login of a home shares one (and the quota figure kept on it).
 */
import type { Storage } from '../storage/storage.js';

/** What the root's storage gives: the storage of a key prefix below it (S3Storage.below). */
export interface PrefixRoot extends Storage {
  below(sub: string): Storage;
}

/** The key prefix of `value` relative to `root` (`''`: the root itself, else `a/b`); throws when refused. */
export function objectHomePrefix(root: string, value: string): string {
  if (value.includes('\0') || value.includes('\\')) throw new Error('home contains NUL or a backslash');
  let rest = value;
  if (value.startsWith('s3://')) {
    const base = root.replace(/\/+$/, '');
    const given = value.replace(/\/+$/, '');
    if (given !== base && !given.startsWith(`${base}/`)) throw new Error('home is outside the served root');
    rest = given.slice(base.length);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new Error('home is not a path nor an s3:// URL');
  }
  const segments = rest.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) throw new Error('home is outside the served root');
  return segments.join('/');
}

/** Most prefixes kept; past it the map starts again (a storage holds no state a home needs kept). */
const MAX_KEPT = 10_000;

export class ObjectHomes {
  private readonly kept = new Map<string, Storage>();

  constructor(
    /** The served root, `s3://BUCKET[/PREFIX]`. */
    readonly root: string,
    private readonly rootStorage: PrefixRoot,
  ) {}

  /** The storage of the home `value` names; throws an Error (for the log) when it is refused. */
  storage(value: string): Storage {
    const sub = objectHomePrefix(this.root, value);
    let s = this.kept.get(sub);
    if (!s) {
      if (this.kept.size >= MAX_KEPT) this.kept.clear();
      s = sub === '' ? this.rootStorage : this.rootStorage.below(sub);
      this.kept.set(sub, s);
    }
    return s;
  }
}
