/**
 * Confinement of LocalStorage to its root directory: the base class that finds, checks and opens
 * entries; local.ts builds the Storage operations on it.
 *
 * Confinement works in three layers:
 *  1. Names: every segment is checked (no '', '.', '..', separators, NUL, and no name starting with the
 *     upload temp prefix, so a client can neither reach nor plant in-flight upload files).
 *  2. Resolution: what an operation follows is realpath()ed (the entry itself, or its parent when the
 *     operation acts on the name: unlink, rename, mkdir, create) and refused unless it is the root or below
 *     it, so a symlink can never lead outside. Links that lead out are hidden: ENOENT, as if absent.
 *  3. Opened objects: a check on a path can be raced (someone with shell access swaps a directory on the
 *     path for a symlink after the check), so reads, writes, listings, chmod and setTime act on an open
 *     file descriptor, and the *opened* object is verified to be inside the root: on Linux by reading
 *     `/proc/self/fd/N`, elsewhere by comparing fstat() dev/ino with the path resolved again. Final
 *     components open with O_NOFOLLOW. Name operations (mkdir, rmdir, unlink, rename, creating an upload
 *     and committing it) go through the verified descriptor of the parent directory on Linux
 *     (`/proc/self/fd/N/name` is looked up in that very directory, like openat()), so a swapped path cannot
 *     redirect them either.
 *
 * What remains (see `test/hardening/path-races.test.ts`):
 *  - Without /proc (macOS, BSD, a Linux without procfs) name operations are path-based after the
 *    parent's check: a swap in that window can make one mkdir/rmdir/unlink/rename act outside the root
 *    (reads and writes are still verified on the descriptor; a temp file created outside is removed).
 *  - stat() is path-based: a race can report an outside entry's metadata (type, size, time), never data.
 *  - chmod/setTime on an entry the server cannot open for reading fall back to the path (the final
 *    component is checked not to be a symlink first).
 *  - A directory *moved* (not symlinked) out of the root while an operation holds its descriptor is
 *    acted on where it now is: the mover had that directory already.
 *
 * The metadata calls behind these checks (realpath, open, readlink, fstat, close) run on the event loop
 * or in the thread pool, as `blockingMetadata` says (see local-fs.ts); the checks are the same.
 * Descriptors are plain numbers, closed by whoever holds them.
 */
import { constants, promises as fsp } from 'node:fs';
import * as nodePath from 'node:path';
import { StorageError } from '../base/errors.js';
import { blockingFs, threadPoolFs, type MetaFs } from './local-fs.js';
import { closeWritten, isFsError, type CheckedDir } from './local-upload.js';
import type { VirtualPath } from '../base/virtual-path.js';

/** Prefix of in-flight upload files; they are hidden from listings and refused as client names. */
export const TEMP_PREFIX = '.ftpsd-upload-';

export const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
export const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY: number | undefined = constants.O_DIRECTORY;
const { O_RDONLY, O_CREAT, O_EXCL } = constants;

export abstract class LocalRoot {
  private rootReal: string | undefined;
  /** The metadata calls: on the event loop or in the thread pool (`blockingMetadata`). */
  protected readonly fs: MetaFs;

  constructor(
    readonly root: string,
    blockingMetadata: boolean,
  ) {
    this.fs = blockingMetadata ? blockingFs : threadPoolFs;
  }

  // --- seams (overridden by tests that race the checks) ----------------------------------------

  /** Opens a path that was resolved and checked; the caller verifies what was opened. */
  protected openFile(real: string, flags: number, mode?: number): Promise<number> {
    return this.fs.open(real, flags, mode);
  }

  /** Where the kernel says an open descriptor is (Linux procfs), or undefined where it cannot tell. */
  protected async openedPath(fd: number): Promise<string | undefined> {
    try {
      return await this.fs.readlink(`/proc/self/fd/${fd}`);
    } catch {
      return undefined;
    }
  }

  // --- resolution and checks -------------------------------------------------------------------

  protected async rootPath(): Promise<string> {
    this.rootReal ??= await this.fs.realpath(this.root);
    return this.rootReal;
  }

  protected inside(root: string, real: string): boolean {
    return real === root || real.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
  }

  /** The real path of an existing entry, symlinks followed, or ENOENT if it resolves outside the root. */
  protected async resolve(path: VirtualPath): Promise<string> {
    checkSegments(path);
    const root = await this.rootPath();
    const real = await this.fs.realpath(nodePath.join(root, ...path));
    if (!this.inside(root, real)) throw new StorageError('ENOENT');
    return real;
  }

  /** The real parent directory and the entry name, for operations on the name itself. */
  protected async parentOf(path: VirtualPath): Promise<{ dirReal: string; name: string }> {
    if (path.length === 0) throw new StorageError('EACCES', 'the root itself');
    checkSegments(path);
    return { dirReal: await this.resolve(path.slice(0, -1)), name: path[path.length - 1]! };
  }

  /**
   * Opens `real` and verifies that the opened object is inside the root; returns whether procfs told
   * where it is. A file this call created (O_EXCL) that turns out to be outside is removed again.
   */
  protected async openInside(real: string, flags: number, mode?: number): Promise<{ fd: number; viaProc: boolean }> {
    const fd = await this.openFile(real, flags, mode);
    let actual: string | undefined;
    try {
      const root = await this.rootPath();
      actual = await this.openedPath(fd);
      if (actual !== undefined) {
        if (!this.inside(root, actual)) throw escaped();
        return { fd, viaProc: true };
      }
      // No procfs: the path must still resolve inside the root, to the very object that is open.
      const [opened, resolved] = await Promise.all([this.fs.fstat(fd), this.fs.realpath(real).catch(() => undefined)]);
      const now = resolved === undefined || !this.inside(root, resolved) ? undefined : await this.fs.stat(resolved).catch(() => undefined);
      if (!now || now.dev !== opened.dev || now.ino !== opened.ino) throw escaped();
      return { fd, viaProc: false };
    } catch (err) {
      const created = (flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL);
      await (created ? closeWritten(fd) : this.fs.close(fd)).catch(() => {});
      if (created) await fsp.unlink(actual ?? real).catch(() => {});
      throw err;
    }
  }

  /** Opens a directory for name operations and listings; see `CheckedDir`. */
  protected async openDir(dirReal: string): Promise<CheckedDir> {
    const byPath: CheckedDir = { path: dirReal, at: (name) => nodePath.join(dirReal, name), close: async () => {} };
    if (O_DIRECTORY === undefined) return byPath; // Windows: no directory descriptors
    let opened: { fd: number; viaProc: boolean };
    try {
      opened = await this.openInside(dirReal, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      // A directory the server may not read (mode 0300) cannot be opened: fall back to its path.
      if (isFsError(err, 'EACCES')) return byPath;
      throw err;
    }
    const { fd, viaProc } = opened;
    if (!viaProc) {
      await this.fs.close(fd);
      return byPath;
    }
    const path = `/proc/self/fd/${fd}`;
    let open = true;
    return {
      path,
      // Once closed, the descriptor number may name another file: never look anything up through it.
      at: (name) => {
        if (!open) throw new StorageError('EBADF', 'directory already released');
        return `${path}/${name}`;
      },
      close: async () => {
        if (!open) return;
        open = false;
        await this.fs.close(fd);
      },
    };
  }

  protected async withDir<T>(dirReal: string, action: (dir: CheckedDir) => Promise<T>): Promise<T> {
    const dir = await this.openDir(dirReal);
    try {
      return await action(dir);
    } finally {
      await dir.close();
    }
  }

  /** Symlinks are followed only inside the root; one that leads out (or nowhere) counts as absent. */
  protected async checkLink(dir: CheckedDir, name: string): Promise<void> {
    const root = await this.rootPath();
    const target = await this.fs.realpath(dir.at(name)).catch(() => undefined);
    if (target === undefined || !this.inside(root, target)) throw new StorageError('ENOENT');
  }
}

function escaped(): StorageError {
  return new StorageError('EACCES', 'the opened entry is outside the root');
}

/**
 * Refuses segments that would make `path.join` name something else than the entry: `''`, `.`, `..`, or a
 * separator or NUL inside. `resolvePath()` never makes them, but a Storage can be called by embedders too,
 * and `..` as the last segment of a name operation (rmdir, rename) would act outside the checked parent.
 * Names of in-flight uploads are refused too (553 for a client).
 */
export function checkSegments(path: VirtualPath): void {
  for (const segment of path) {
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      segment.includes('/') ||
      segment.includes('\0') ||
      segment.startsWith(TEMP_PREFIX) ||
      (nodePath.sep === '\\' && segment.includes('\\'))
    ) {
      throw new StorageError('EINVAL', 'invalid path segment');
    }
  }
}
