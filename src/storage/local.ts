/**
 * Local-disk storage confined to one root directory. How entries are found, checked and opened so that
 * nothing outside the root can be reached (symlinks, races): local-root.ts. Listings: local-list.ts.
 * Downloads read through a `FileReader` (file-reader.ts), uploads write through local-upload.ts.
 *
 * Metadata calls (realpath, stat, open, readlink of /proc/self/fd/N, close) run on the event loop by
 * default (`blockingMetadata`), as the C servers and pyftpdlib do: on a local disk they take
 * microseconds, a thread-pool round trip tens of them. Set `blockingMetadata: false` for a root on a
 * network file system, where one call can take long or hang (local-fs.ts). Under `blockingMetadata` the
 * reads of small files (up to 64 KiB) run on the event loop too; larger reads use the thread pool always.
 *
 * Uploads: replacing an existing file always writes a hidden temp file (`.ftpsd-upload-*`) in the target
 * directory and renames it over the target on commit (after fdatasync), so a failed upload never damages
 * the existing file. A new file goes through a temp file too when `atomicUploads` is true (the default),
 * else it is written in place under its final name. `partialUploads` says what a failed upload of a new
 * file leaves: nothing (`delete`, the default) or what arrived (`keep`; a file that got no byte is removed).
 * With a `journal` (upload-journal.ts) every temp file is recorded while it exists, so the next start
 * removes those a crash (SIGKILL, power loss aside) left behind.
 */
import { constants, fchmod, futimes, type Stats } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { StorageError } from '../base/errors.js';
import { checksumByReading } from './checksum.js';
import { FileReader } from './file-reader.js';
import { listDirectory } from './local-list.js';
import { LocalRoot, O_NOFOLLOW, O_NONBLOCK, TEMP_PREFIX } from './local-root.js';
import { closeWritten, descriptorUpload, isFsError, keepAs, syncData, truncateTo, writeStreamOn, type CheckedDir } from './local-upload.js';
import type { FileStat, HashAlgorithm, OpenedFile, ReadOptions, Storage, Upload, WriteOptions } from './storage.js';
import type { UploadJournal } from './upload-journal.js';
import type { VirtualPath } from '../base/virtual-path.js';

export { TEMP_PREFIX } from './local-root.js';

export type PartialUploadPolicy = 'delete' | 'keep';

export interface LocalStorageOptions {
  /** Largest read of a download that is piped (TYPE A, byte ranges, hashing); default 256 KiB. */
  readChunkBytes?: number;
  /** New files are written under a hidden temp name and renamed on commit (default true). */
  atomicUploads?: boolean;
  /** What a failed upload of a new file leaves: `delete` (default) or `keep` the bytes that arrived. */
  partialUploads?: PartialUploadPolicy;
  /**
   * Metadata calls on the event loop (default true: fast on local disks); false sends them through the
   * thread pool, for roots on network file systems (see local-fs.ts).
   */
  blockingMetadata?: boolean;
  /**
   * Where temp files are recorded while they exist, so that those a crash leaves behind are removed at
   * the next start (see `openUploadJournal`). Default: none (a crash leaves them; they stay hidden).
   */
  journal?: UploadJournal;
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_APPEND } = constants;
const NEW_FILE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
const futimesP = promisify(futimes);
/** Under `blockingMetadata`, a download's reads of up to this many bytes (small files) run on the event loop. */
const SYNC_READ_BYTES = 64 * 1024;
const fchmodP = promisify(fchmod);

export class LocalStorage extends LocalRoot implements Storage {
  private readonly chunk: number;
  private readonly atomic: boolean;
  private readonly partial: PartialUploadPolicy;
  private readonly journal: UploadJournal | undefined;

  constructor(root: string, options: LocalStorageOptions = {}) {
    super(root, options.blockingMetadata ?? true);
    this.chunk = options.readChunkBytes ?? 256 * 1024;
    this.atomic = options.atomicUploads ?? true;
    this.partial = options.partialUploads ?? 'delete';
    this.journal = options.journal;
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
    const st = await this.fs.stat(real);
    if (!st.isFile() && !st.isDirectory()) throw new StorageError('ENOENT');
    return this.toStat(path.length === 0 ? '/' : path[path.length - 1]!, st);
  }

  list(path: VirtualPath): AsyncIterable<FileStat> {
    // One generator (local-list.ts opens and closes the directory): no delegating layer per entry.
    return listDirectory(
      this.fs,
      async () => this.openDir(await this.resolve(path)),
      TEMP_PREFIX,
      (dir, name) => this.checkLink(dir, name),
      (name, st) => this.toStat(name, st),
    );
  }

  async read(path: VirtualPath, options: ReadOptions = {}): Promise<Readable> {
    return (await this.openReader(await this.resolve(path), options.start ?? 0)).reader;
  }

  /**
   * RETR's `stat` and `read` in one: the path is resolved and checked once, the file opened (and verified
   * to be inside the root) once, and its size and time come from fstat() of that descriptor, so the stat
   * is the one of the bytes sent. Before it opens anything it stats the resolved path, so it opens what
   * `stat` then `read` would open and nothing else: a FIFO, socket or device is ENOENT (as `stat` hides
   * them), a directory EISDIR, and neither is ever opened.
   */
  async openRead(path: VirtualPath, options: ReadOptions = {}): Promise<OpenedFile> {
    const real = await this.resolve(path);
    const st = await this.fs.stat(real);
    if (st.isDirectory()) throw new StorageError('EISDIR');
    if (!st.isFile()) throw new StorageError('ENOENT');
    const { reader, opened } = await this.openReader(real, options.start ?? 0);
    return { stat: this.toStat(path[path.length - 1]!, opened), stream: reader };
  }

  /** Opens the resolved file `real` (verified inside the root) and reads it from `start`. */
  private async openReader(real: string, start: number): Promise<{ reader: FileReader; opened: Stats }> {
    // O_NONBLOCK: opening a FIFO must not block a thread of the pool (it is refused below).
    const { fd } = await this.openInside(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    let opened: Stats;
    try {
      opened = await this.fs.fstat(fd);
      if (opened.isDirectory()) throw new StorageError('EISDIR');
      if (!opened.isFile()) throw new StorageError('EACCES');
    } catch (err) {
      await this.fs.close(fd).catch(() => {});
      throw err;
    }
    const reader = new FileReader(fd, {
      start,
      size: opened.size,
      chunk: this.chunk,
      close: (n) => this.fs.close(n),
      syncReadBytes: this.fs.blocking ? SYNC_READ_BYTES : 0,
    });
    return { reader, opened };
  }

  async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    const parent = await this.parentOf(path);
    let dirReal = parent.dirReal;
    let dir = await this.openDir(dirReal);
    let name = parent.name;
    try {
      let existing = await this.fs.lstat(dir.at(name)).catch(() => undefined);
      if (existing?.isSymbolicLink()) {
        // Writing through a link is allowed only when it stays inside the root; then it writes the link's
        // target (in every mode, as open() would), and the target's type and mode count.
        const target = await this.resolve(path);
        await dir.close();
        dirReal = nodePath.dirname(target);
        dir = await this.openDir(dirReal);
        name = nodePath.basename(target);
        existing = await this.fs.lstat(dir.at(name));
        if (existing.isSymbolicLink()) throw new StorageError('ELOOP');
      }
      if (existing?.isDirectory()) throw new StorageError('EISDIR');
      if (existing && !existing.isFile()) throw new StorageError('EACCES', 'not a regular file');
      if (options.mode === 'replace') return await this.replaceUpload(dir, dirReal, name, existing);
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
  private async replaceUpload(dir: CheckedDir, dirReal: string, name: string, existing: Stats | undefined): Promise<Upload> {
    if (!existing && !this.atomic) {
      try {
        return await this.inPlaceUpload(dir, name, NEW_FILE, true, undefined);
      } catch (err) {
        if (!isFsError(err, 'EEXIST')) throw err; // created meanwhile: replace it through a temp file
      }
    }
    const temp = TEMP_PREFIX + randomBytes(8).toString('hex');
    // Recorded before it exists: a crash from here on leaves a file the next start finds (upload-journal.ts).
    const entry = await this.recordTemp(dirReal, temp);
    let fd: number;
    try {
      ({ fd } = await this.openInside(dir.at(temp), NEW_FILE, existing ? existing.mode & 0o777 : 0o644));
    } catch (err) {
      if (entry !== undefined) this.journal!.end(entry); // not created, or removed again by openInside
      throw err;
    }
    const stream = writeStreamOn(fd);
    return descriptorUpload(stream, dir, {
      // The old content is only replaced once the new one is on disk.
      beforeClose: existing ? () => syncData(fd) : undefined,
      commit: async () => {
        await fs.rename(dir.at(temp), dir.at(name));
        if (entry !== undefined) this.journal!.end(entry);
      },
      abort: async () => {
        if (!existing && this.partial === 'keep' && stream.bytesWritten > 0) await keepAs(dir.at(temp), dir.at(name));
        await fs.rm(dir.at(temp), { force: true });
        if (entry !== undefined) this.journal!.end(entry);
      },
    });
  }

  /** Journals a temp file about to be made in `dirReal` (a checked real directory inside the root). */
  private async recordTemp(dirReal: string, name: string): Promise<number | undefined> {
    if (!this.journal) return undefined;
    const root = await this.rootPath();
    return this.journal.begin({ root, dir: nodePath.relative(root, dirReal).split(nodePath.sep).join('/'), name });
  }

  /** Writes the file itself: APPE, REST + STOR, and new files when uploads are not atomic. */
  private async inPlaceUpload(dir: CheckedDir, name: string, flags: number, created: boolean, offset: number | undefined): Promise<Upload> {
    const { fd } = await this.openInside(dir.at(name), flags, 0o644);
    let opened: Stats | undefined;
    try {
      if (created) opened = await this.fs.fstat(fd);
    } catch (err) {
      await closeWritten(fd).catch(() => {});
      throw err;
    }
    const stream = writeStreamOn(fd, offset);
    return descriptorUpload(stream, dir, {
      beforeClose: offset === undefined ? undefined : () => truncateTo(fd, offset + stream.bytesWritten),
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
      async (fd) => futimesP(fd, (await this.fs.fstat(fd)).atime, mtime),
      async (real) => fs.utimes(real, (await fs.stat(real)).atime, mtime),
    );
  }

  async chmod(path: VirtualPath, mode: number): Promise<void> {
    await this.onEntry(
      path,
      (fd) => fchmodP(fd, mode & 0o777),
      (real) => fs.chmod(real, mode & 0o777),
    );
  }

  async freeSpace(path: VirtualPath): Promise<number> {
    const st = await fs.statfs(await this.resolve(path));
    return st.bavail * st.bsize;
  }

  /** HASH: computed by reading the file (through the same checked descriptor as a download). */
  checksum(path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string> {
    return checksumByReading(this, path, algorithm, start, end);
  }

  /**
   * SITE SYMLINK: makes `link` a symbolic link to `target`. The target must exist and resolve inside the
   * root (links on its way included), else ENOENT; the link is written relative to its own directory
   * (`../b/c`), so it never names an absolute path and survives moving the whole root. It is created
   * through the checked descriptor of its directory, like every name operation.
   */
  async symlink(target: VirtualPath, link: VirtualPath): Promise<void> {
    const targetReal = await this.resolve(target);
    const { dirReal, name } = await this.parentOf(link);
    const relative = nodePath.relative(dirReal, targetReal) || '.';
    await this.withDir(dirReal, (dir) => fs.symlink(relative, dir.at(name)));
  }

  /** Runs `action` on a verified descriptor of the entry; on one the server cannot open, on its path. */
  private async onEntry(path: VirtualPath, action: (fd: number) => Promise<void>, byPath: (real: string) => Promise<void>): Promise<void> {
    const real = await this.resolve(path);
    let fd: number;
    try {
      ({ fd } = await this.openInside(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK));
    } catch (err) {
      if (!isFsError(err, 'EACCES')) throw err;
      if ((await fs.lstat(real)).isSymbolicLink()) throw new StorageError('ELOOP');
      return byPath(real);
    }
    try {
      await action(fd);
    } finally {
      await this.fs.close(fd);
    }
  }
}
