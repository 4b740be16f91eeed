/**
 * Local-disk storage confined to one root directory.
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
 * What remains (see `test/hardening/paths.test.ts`):
 *  - Without /proc (macOS, BSD, a Linux without procfs) name operations are path-based after the
 *    parent's check: a swap in that window can make one mkdir/rmdir/unlink/rename act outside the root
 *    (reads and writes are still verified on the descriptor; a temp file created outside is removed).
 *  - stat() is path-based: a race can report an outside entry's metadata (type, size, time), never data.
 *  - chmod/setTime on an entry the server cannot open for reading fall back to the path (the final
 *    component is checked not to be a symlink first).
 *  - A directory *moved* (not symlinked) out of the root while an operation holds its descriptor is
 *    acted on where it now is: the mover had that directory already.
 *
 * Uploads: replacing an existing file always writes a hidden temp file (`.ftpsd-upload-*`) in the target
 * directory and renames it over the target on commit (after fdatasync), so a failed upload never damages
 * the existing file. A new file goes through a temp file too when `atomicUploads` is true (the default),
 * else it is written in place under its final name. `partialUploads` says what a failed upload of a new
 * file leaves: nothing (`delete`, the default) or what arrived (`keep`; a file that got no byte is removed).
 */
import { constants, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StorageError } from '../protocol/errors.js';
import type { FileStat, ReadOptions, Storage, Upload, WriteOptions } from './storage.js';
import type { VirtualPath } from './virtual-path.js';
import { descriptorUpload, isFsError, keepAs, type CheckedDir } from './local-upload.js';

/** Prefix of in-flight upload files; they are hidden from listings and refused as client names. */
export const TEMP_PREFIX = '.ftpsd-upload-';

export type PartialUploadPolicy = 'delete' | 'keep';

export interface LocalStorageOptions {
  /** Read buffer size for downloads. */
  readChunkBytes?: number;
  /** New files are written under a hidden temp name and renamed on commit (default true). */
  atomicUploads?: boolean;
  /** What a failed upload of a new file leaves: `delete` (default) or `keep` the bytes that arrived. */
  partialUploads?: PartialUploadPolicy;
}

const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY: number | undefined = constants.O_DIRECTORY;
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = constants;
const NEW_FILE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;

export class LocalStorage implements Storage {
  private rootReal: string | undefined;
  private readonly chunk: number;
  private readonly atomic: boolean;
  private readonly partial: PartialUploadPolicy;

  constructor(
    readonly root: string,
    options: LocalStorageOptions = {},
  ) {
    this.chunk = options.readChunkBytes ?? 256 * 1024;
    this.atomic = options.atomicUploads ?? true;
    this.partial = options.partialUploads ?? 'delete';
  }

  // --- seams (overridden by tests that race the checks) ----------------------------------------

  /** Opens a path that was resolved and checked; the caller verifies what was opened. */
  protected openFile(real: string, flags: number, mode?: number): Promise<FileHandle> {
    return fs.open(real, flags, mode);
  }

  /** Where the kernel says an open descriptor is (Linux procfs), or undefined where it cannot tell. */
  protected async openedPath(handle: FileHandle): Promise<string | undefined> {
    try {
      return await fs.readlink(`/proc/self/fd/${handle.fd}`);
    } catch {
      return undefined;
    }
  }

  // --- resolution and checks -------------------------------------------------------------------

  private async rootPath(): Promise<string> {
    this.rootReal ??= await fs.realpath(this.root);
    return this.rootReal;
  }

  private inside(root: string, real: string): boolean {
    return real === root || real.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
  }

  /** The real path of an existing entry, symlinks followed, or ENOENT if it resolves outside the root. */
  private async resolve(path: VirtualPath): Promise<string> {
    checkSegments(path);
    const root = await this.rootPath();
    const real = await fs.realpath(nodePath.join(root, ...path));
    if (!this.inside(root, real)) throw new StorageError('ENOENT');
    return real;
  }

  /** The real parent directory and the entry name, for operations on the name itself. */
  private async parentOf(path: VirtualPath): Promise<{ dirReal: string; name: string }> {
    if (path.length === 0) throw new StorageError('EACCES', 'the root itself');
    checkSegments(path);
    return { dirReal: await this.resolve(path.slice(0, -1)), name: path[path.length - 1]! };
  }

  /**
   * Opens `real` and verifies that the opened object is inside the root; returns whether procfs told
   * where it is. A file this call created (O_EXCL) that turns out to be outside is removed again.
   */
  private async openInside(real: string, flags: number, mode?: number): Promise<{ handle: FileHandle; viaProc: boolean }> {
    const handle = await this.openFile(real, flags, mode);
    let actual: string | undefined;
    try {
      const root = await this.rootPath();
      actual = await this.openedPath(handle);
      if (actual !== undefined) {
        if (!this.inside(root, actual)) throw escaped();
        return { handle, viaProc: true };
      }
      // No procfs: the path must still resolve inside the root, to the very object that is open.
      const [opened, resolved] = await Promise.all([handle.stat(), fs.realpath(real).catch(() => undefined)]);
      const now = resolved === undefined || !this.inside(root, resolved) ? undefined : await fs.stat(resolved).catch(() => undefined);
      if (!now || now.dev !== opened.dev || now.ino !== opened.ino) throw escaped();
      return { handle, viaProc: false };
    } catch (err) {
      await handle.close().catch(() => {});
      if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) await fs.unlink(actual ?? real).catch(() => {});
      throw err;
    }
  }

  /** Opens a directory for name operations; see `CheckedDir`. */
  private async openDir(dirReal: string): Promise<CheckedDir> {
    const byPath: CheckedDir = { path: dirReal, at: (name) => nodePath.join(dirReal, name), close: async () => {} };
    if (O_DIRECTORY === undefined) return byPath; // Windows: no directory descriptors
    let opened: { handle: FileHandle; viaProc: boolean };
    try {
      opened = await this.openInside(dirReal, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK);
    } catch (err) {
      // A directory the server may not read (mode 0300) cannot be opened: fall back to its path.
      if (isFsError(err, 'EACCES')) return byPath;
      throw err;
    }
    const { handle, viaProc } = opened;
    if (!viaProc) {
      await handle.close();
      return byPath;
    }
    const path = `/proc/self/fd/${handle.fd}`;
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
        await handle.close();
      },
    };
  }

  private async withDir<T>(dirReal: string, action: (dir: CheckedDir) => Promise<T>): Promise<T> {
    const dir = await this.openDir(dirReal);
    try {
      return await action(dir);
    } finally {
      await dir.close();
    }
  }

  /** Symlinks are followed only inside the root; one that leads out (or nowhere) counts as absent. */
  private async checkLink(dir: CheckedDir, name: string): Promise<void> {
    const root = await this.rootPath();
    const target = await fs.realpath(dir.at(name)).catch(() => undefined);
    if (target === undefined || !this.inside(root, target)) throw new StorageError('ENOENT');
  }

  private toStat(name: string, st: Stats): FileStat {
    return {
      name,
      type: st.isDirectory() ? 'dir' : 'file',
      size: st.isDirectory() ? 0 : st.size,
      mtime: st.mtime,
      mode: st.mode & 0o7777,
      nlink: st.nlink,
      owner: String(st.uid),
      group: String(st.gid),
      unique: `${st.dev.toString(16)}g${st.ino.toString(16)}`,
    };
  }

  // --- Storage ---------------------------------------------------------------------------------

  async stat(path: VirtualPath): Promise<FileStat> {
    const real = await this.resolve(path);
    const st = await fs.stat(real);
    if (!st.isFile() && !st.isDirectory()) throw new StorageError('ENOENT');
    return this.toStat(path.length === 0 ? '/' : path[path.length - 1]!, st);
  }

  async *list(path: VirtualPath): AsyncIterable<FileStat> {
    const dir = await this.openDir(await this.resolve(path));
    try {
      const listing = await fs.opendir(dir.path, { bufferSize: 256 });
      const batch: Promise<FileStat | undefined>[] = [];
      const entry = async (name: string, isLink: boolean): Promise<FileStat | undefined> => {
        try {
          if (isLink) await this.checkLink(dir, name);
          // lstat for what readdir saw as a plain entry: if it became a link meanwhile, it is not followed.
          const st = isLink ? await fs.stat(dir.at(name)) : await fs.lstat(dir.at(name));
          if (!st.isFile() && !st.isDirectory()) return undefined;
          return this.toStat(name, st);
        } catch {
          return undefined; // vanished meanwhile, or a link that leads out or nowhere
        }
      };
      for await (const d of listing) {
        if (d.name.startsWith(TEMP_PREFIX)) continue;
        batch.push(entry(d.name, d.isSymbolicLink()));
        if (batch.length >= 64) {
          for (const st of await Promise.all(batch.splice(0))) if (st) yield st;
        }
      }
      for (const st of await Promise.all(batch)) if (st) yield st;
    } finally {
      await dir.close();
    }
  }

  async read(path: VirtualPath, options: ReadOptions = {}): Promise<Readable> {
    const real = await this.resolve(path);
    // O_NONBLOCK: opening a FIFO must not block a thread of the pool (it is refused below).
    const { handle } = await this.openInside(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw new StorageError('EISDIR');
      if (!st.isFile()) throw new StorageError('EACCES');
    } catch (err) {
      await handle.close();
      throw err;
    }
    return handle.createReadStream({ start: options.start ?? 0, highWaterMark: this.chunk, autoClose: true });
  }

  async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    const parent = await this.parentOf(path);
    let dir = await this.openDir(parent.dirReal);
    let name = parent.name;
    try {
      let existing = await fs.lstat(dir.at(name)).catch(() => undefined);
      if (existing?.isSymbolicLink()) {
        // Writing through a link is allowed only when it stays inside the root; then it writes the link's
        // target (in every mode, as open() would), and the target's type and mode count.
        const target = await this.resolve(path);
        await dir.close();
        dir = await this.openDir(nodePath.dirname(target));
        name = nodePath.basename(target);
        existing = await fs.lstat(dir.at(name));
        if (existing.isSymbolicLink()) throw new StorageError('ELOOP');
      }
      if (existing?.isDirectory()) throw new StorageError('EISDIR');
      if (existing && !existing.isFile()) throw new StorageError('EACCES', 'not a regular file');
      if (options.mode === 'replace') return await this.replaceUpload(dir, name, existing);
      if (options.mode === 'offset' && (options.offset ?? 0) > (existing?.size ?? 0)) {
        throw new StorageError('EINVAL', 'offset past the end of the file');
      }
      const flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (options.mode === 'append' ? O_APPEND : 0);
      return await this.inPlaceUpload(dir, name, flags, existing === undefined, options.mode === 'offset' ? (options.offset ?? 0) : undefined);
    } catch (err) {
      await dir.close();
      throw err;
    }
  }

  /** A `replace` upload: through a temp file, or in place for a new file when uploads are not atomic. */
  private async replaceUpload(dir: CheckedDir, name: string, existing: Stats | undefined): Promise<Upload> {
    if (!existing && !this.atomic) {
      try {
        return await this.inPlaceUpload(dir, name, NEW_FILE, true, undefined);
      } catch (err) {
        if (!isFsError(err, 'EEXIST')) throw err; // created meanwhile: replace it through a temp file
      }
    }
    const temp = TEMP_PREFIX + randomBytes(8).toString('hex');
    const { handle } = await this.openInside(dir.at(temp), NEW_FILE, existing ? existing.mode & 0o777 : 0o644);
    const stream = handle.createWriteStream({ autoClose: false });
    return descriptorUpload(handle, stream, dir, {
      // The old content is only replaced once the new one is on disk.
      beforeClose: existing ? () => handle.datasync() : undefined,
      commit: () => fs.rename(dir.at(temp), dir.at(name)),
      abort: async () => {
        if (!existing && this.partial === 'keep' && stream.bytesWritten > 0) await keepAs(dir.at(temp), dir.at(name));
        await fs.rm(dir.at(temp), { force: true });
      },
    });
  }

  /** Writes the file itself: APPE, REST + STOR, and new files when uploads are not atomic. */
  private async inPlaceUpload(dir: CheckedDir, name: string, flags: number, created: boolean, offset: number | undefined): Promise<Upload> {
    const { handle } = await this.openInside(dir.at(name), flags, 0o644);
    let opened: Stats | undefined;
    try {
      if (created) opened = await handle.stat();
    } catch (err) {
      await handle.close();
      throw err;
    }
    const stream = handle.createWriteStream(offset === undefined ? { autoClose: false } : { autoClose: false, start: offset });
    return descriptorUpload(handle, stream, dir, {
      beforeClose: offset === undefined ? undefined : () => handle.truncate(offset + stream.bytesWritten),
      commit: async () => {},
      abort: async () => {
        if (!opened || (this.partial === 'keep' && stream.bytesWritten > 0)) return;
        // Remove what this upload created, unless another one has put its own file there meanwhile.
        const now = await fs.lstat(dir.at(name)).catch(() => undefined);
        if (now && now.dev === opened.dev && now.ino === opened.ino) await fs.unlink(dir.at(name)).catch(() => {});
      },
    });
  }

  async mkdir(path: VirtualPath): Promise<void> {
    const { dirReal, name } = await this.parentOf(path);
    await this.withDir(dirReal, (dir) => fs.mkdir(dir.at(name)));
  }

  async rmdir(path: VirtualPath): Promise<void> {
    const { dirReal, name } = await this.parentOf(path);
    await this.withDir(dirReal, async (dir) => {
      const st = await fs.lstat(dir.at(name));
      if (!st.isDirectory()) throw new StorageError('ENOTDIR');
      await fs.rmdir(dir.at(name));
    });
  }

  async remove(path: VirtualPath): Promise<void> {
    const { dirReal, name } = await this.parentOf(path);
    await this.withDir(dirReal, async (dir) => {
      const st = await fs.lstat(dir.at(name));
      if (st.isDirectory()) throw new StorageError('EISDIR');
      await fs.unlink(dir.at(name)); // a symlink itself goes, wherever it points

    });
  }

  async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    const source = await this.parentOf(from);
    const target = await this.parentOf(to);
    await this.withDir(source.dirReal, (a) =>
      this.withDir(target.dirReal, async (b) => {
        await fs.lstat(a.at(source.name));
        await fs.rename(a.at(source.name), b.at(target.name)); // a symlink moves as a link
      }),
    );
  }

  async setTime(path: VirtualPath, mtime: Date): Promise<void> {
    await this.onEntry(
      path,
      async (handle) => handle.utimes((await handle.stat()).atime, mtime),
      async (real) => fs.utimes(real, (await fs.stat(real)).atime, mtime),
    );
  }

  async chmod(path: VirtualPath, mode: number): Promise<void> {
    await this.onEntry(
      path,
      (handle) => handle.chmod(mode & 0o777),
      (real) => fs.chmod(real, mode & 0o777),
    );
  }

  async freeSpace(path: VirtualPath): Promise<number> {
    const st = await fs.statfs(await this.resolve(path));
    return st.bavail * st.bsize;
  }

  /** Runs `action` on a verified descriptor of the entry; on one the server cannot open, on its path. */
  private async onEntry(path: VirtualPath, action: (handle: FileHandle) => Promise<void>, byPath: (real: string) => Promise<void>): Promise<void> {
    const real = await this.resolve(path);
    let handle: FileHandle;
    try {
      ({ handle } = await this.openInside(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
    } catch (err) {
      if (!isFsError(err, 'EACCES')) throw err;
      if ((await fs.lstat(real)).isSymbolicLink()) throw new StorageError('ELOOP');
      return byPath(real);
    }
    try {
      await action(handle);
    } finally {
      await handle.close();
    }
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
function checkSegments(path: VirtualPath): void {
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
