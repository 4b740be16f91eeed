/**
 * Virtual paths: what the protocol layer works with instead of real paths.
 *
 * A `VirtualPath` is the list of segments below the user's root. `resolvePath()` is the one normaliser:
 * it joins the current directory and a client argument, drops `.` and empty segments, pops on `..` but
 * never above the root, and refuses NUL and overlong input. Only storage backends turn a VirtualPath
 * into something real (a file system path, an object key).
 *
 * `/` is the only separator. A backslash is an ordinary character of a name (as on POSIX file systems),
 * so `..\..\etc` is one name, inside the root; percent signs are literal too (`%2e%2e` is not `..`).
 */
import { FtpError } from './errors.js';
import { Code } from './reply-codes.js';

/** A path below the user's root as its segments: `/a/b.txt` is `['a', 'b.txt']`, the root `[]`. */
export type VirtualPath = readonly string[];

export const ROOT: VirtualPath = Object.freeze([]);

/** Limits that keep paths within what every file system and object store accepts. */
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

export function badName(): FtpError {
  return new FtpError(Code.nameNotAllowed, 'File name not allowed.', { code: 'FTP_ERR_BAD_NAME' });
}

/** Joins `cwd` and a client argument into a normalised path, confined to the root. */
export function resolvePath(cwd: VirtualPath, arg: string): VirtualPath {
  if (arg.includes('\0') || Buffer.byteLength(arg) > MAX_PATH_BYTES) throw badName();
  const out = arg.startsWith('/') ? [] : [...cwd];
  for (const segment of arg.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      out.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) throw badName();
    out.push(segment);
  }
  if (Buffer.byteLength(out.join('/')) > MAX_PATH_BYTES) throw badName();
  return out;
}

/** The absolute virtual path as the client sees it: `/`, `/a/b`. */
export function formatPath(path: VirtualPath): string {
  return '/' + path.join('/');
}

export function parentOf(path: VirtualPath): VirtualPath {
  return path.slice(0, -1);
}

export function baseName(path: VirtualPath): string {
  return path.length === 0 ? '/' : path[path.length - 1]!;
}

export function isInside(path: VirtualPath, dir: VirtualPath): boolean {
  return path.length >= dir.length && dir.every((s, i) => path[i] === s);
}
