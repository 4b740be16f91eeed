/**
 * Local-disk storage confined to one root directory.
 *
 * Confinement is checked on the *resolved* path: every operation realpath()s what it touches (the entry
 * itself when following it, its parent when acting on the name: unlink, rename, mkdir, create) and
 * refuses anything that is not the root or below it, so a symlink can never lead outside.
 * `replace` uploads go to a hidden temporary file in the target directory and are renamed over the target
 * on commit, so a failed upload never damages the existing file.
 */
import { constants, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { Stats } from 'node:fs';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { StorageError } from '../protocol/errors.js';
import type { FileStat, ReadOptions, Storage, Upload, WriteOptions } from './storage.js';
import type { VirtualPath } from './virtual-path.js';

/** Prefix of in-flight upload files; they are hidden from listings. */
export const TEMP_PREFIX = '.ftpsd-upload-';

export interface LocalStorageOptions {
  /** Read buffer size for downloads. */
  readChunkBytes?: number;
}

export class LocalStorage implements Storage {
  private rootReal: string | undefined;
  private readonly chunk: number;

  constructor(
    readonly root: string,
    options: LocalStorageOptions = {},
  ) {
    this.chunk = options.readChunkBytes ?? 256 * 1024;
  }

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

  /** The real parent directory plus the entry name, for operations on the name itself. */
  private async resolveName(path: VirtualPath): Promise<string> {
    if (path.length === 0) throw new StorageError('EACCES', 'the root itself');
    checkSegments(path);
    const parent = await this.resolve(path.slice(0, -1));
    return nodePath.join(parent, path[path.length - 1]!);
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

  async stat(path: VirtualPath): Promise<FileStat> {
    const real = await this.resolve(path);
    const st = await fs.stat(real);
    if (!st.isFile() && !st.isDirectory()) throw new StorageError('ENOENT');
    return this.toStat(path.length === 0 ? '/' : path[path.length - 1]!, st);
  }

  async *list(path: VirtualPath): AsyncIterable<FileStat> {
    const root = await this.rootPath();
    const dirReal = await this.resolve(path);
    const dir = await fs.opendir(dirReal, { bufferSize: 256 });
    const batch: Promise<FileStat | undefined>[] = [];
    const entry = async (name: string, isLink: boolean): Promise<FileStat | undefined> => {
      const full = nodePath.join(dirReal, name);
      try {
        if (isLink) {
          const target = await fs.realpath(full);
          if (!this.inside(root, target)) return undefined;
        }
        // lstat for what readdir saw as a plain entry: if it became a link meanwhile, it is not followed.
        const st = isLink ? await fs.stat(full) : await fs.lstat(full);
        if (!st.isFile() && !st.isDirectory()) return undefined;
        return this.toStat(name, st);
      } catch {
        return undefined; // vanished meanwhile, or a dangling link
      }
    };
    for await (const d of dir) {
      if (d.name.startsWith(TEMP_PREFIX)) continue;
      batch.push(entry(d.name, d.isSymbolicLink()));
      if (batch.length >= 64) {
        for (const st of await Promise.all(batch.splice(0))) if (st) yield st;
      }
    }
    for (const st of await Promise.all(batch)) if (st) yield st;
  }

  async read(path: VirtualPath, options: ReadOptions = {}): Promise<Readable> {
    const real = await this.resolve(path);
    // O_NONBLOCK: opening a FIFO must not block a thread of the pool (it is refused below).
    const handle = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | (constants.O_NONBLOCK ?? 0));
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
    let target = await this.resolveName(path);
    let existing = await fs.lstat(target).catch(() => undefined);
    if (existing?.isSymbolicLink()) {
      // Writing through a link is allowed only when it stays inside the root; then it writes the link's
      // target (in every mode, as open() would), and the target's type and mode count.
      target = await this.resolve(path);
      existing = await fs.stat(target);
    }
    if (existing?.isDirectory()) throw new StorageError('EISDIR');
    if (existing && !existing.isFile()) throw new StorageError('EACCES', 'not a regular file');
    if (options.mode === 'replace') {
      const temp = nodePath.join(nodePath.dirname(target), TEMP_PREFIX + randomBytes(8).toString('hex'));
      const stream = createWriteStream(temp, { flags: 'wx', mode: existing ? existing.mode & 0o777 : 0o644 });
      return fileUpload(stream, {
        commit: () => fs.rename(temp, target),
        abort: () => fs.rm(temp, { force: true }),
      });
    }
    if (options.mode === 'append') {
      const stream = createWriteStream(target, { flags: 'a' });
      return fileUpload(stream, { commit: async () => {}, abort: async () => {} });
    }
    const offset = options.offset ?? 0;
    const size = existing?.size ?? 0;
    if (offset > size) throw new StorageError('EINVAL', 'offset past the end of the file');
    const stream = createWriteStream(target, { flags: existing ? 'r+' : 'w', start: offset });
    return fileUpload(stream, {
      commit: async () => {
        await fs.truncate(target, offset + stream.bytesWritten);
      },
      abort: async () => {},
    });
  }

  async mkdir(path: VirtualPath): Promise<void> {
    await fs.mkdir(await this.resolveName(path));
  }

  async rmdir(path: VirtualPath): Promise<void> {
    const real = await this.resolveName(path);
    const st = await fs.lstat(real);
    if (!st.isDirectory()) throw new StorageError('ENOTDIR');
    await fs.rmdir(real);
  }

  async remove(path: VirtualPath): Promise<void> {
    const real = await this.resolveName(path);
    const st = await fs.lstat(real);
    if (st.isDirectory()) throw new StorageError('EISDIR');
    await fs.unlink(real);
  }

  async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    const source = await this.resolveName(from);
    const target = await this.resolveName(to);
    await fs.lstat(source);
    await fs.rename(source, target);
  }

  async setTime(path: VirtualPath, mtime: Date): Promise<void> {
    const real = await this.resolve(path);
    const st = await fs.stat(real);
    await fs.utimes(real, st.atime, mtime);
  }

  async chmod(path: VirtualPath, mode: number): Promise<void> {
    await fs.chmod(await this.resolve(path), mode & 0o777);
  }

  async freeSpace(path: VirtualPath): Promise<number> {
    const st = await fs.statfs(await this.resolve(path));
    return st.bavail * st.bsize;
  }
}

/**
 * Refuses segments that would make `path.join` name something else than the entry: `''`, `.`, `..`, or a
 * separator or NUL inside. `resolvePath()` never makes them, but a Storage can be called by embedders too,
 * and `..` as the last segment of a name operation (rmdir, rename) would act outside the checked parent.
 */
function checkSegments(path: VirtualPath): void {
  for (const segment of path) {
    if (
      segment === '' ||
      segment === '.' ||
      segment === '..' ||
      segment.includes('/') ||
      segment.includes('\0') ||
      (nodePath.sep === '\\' && segment.includes('\\'))
    ) {
      throw new StorageError('EINVAL', 'invalid path segment');
    }
  }
}

/** Wraps an opening write stream; resolves once the file is open, so errors come before the 150 reply. */
async function fileUpload(
  stream: ReturnType<typeof createWriteStream>,
  done: { commit(): Promise<void>; abort(): Promise<void> },
): Promise<Upload> {
  await new Promise<void>((resolve, reject) => {
    stream.once('ready', resolve);
    stream.once('error', reject);
  });
  return {
    stream,
    async commit() {
      if (!stream.writableFinished) await finished(stream);
      await done.commit();
    },
    async abort() {
      stream.destroy();
      await finished(stream).catch(() => {});
      await done.abort();
    },
  };
}
