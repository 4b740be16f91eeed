/**
 * The file-system calls LocalStorage makes to find, check and open entries, in two flavours:
 *
 * - `blocking` (the default): the calls run on the event loop (`fs.*Sync`). On a local disk a
 *   metadata call (realpath, stat, open, readlink of /proc/self/fd/N, close) takes a few microseconds,
 *   while a round trip through libuv's thread pool takes tens: a download of a small file needs about
 *   ten of them, and a listing one per entry. This is what pyftpdlib and the C servers do (their
 *   process waits on the call). The cost: a call that stalls (a network file system that hangs, a cold
 *   spinning disk) stalls every session of the process for that long.
 * - `threadPool`: every call goes through the thread pool (`fs` callbacks), so the event loop never waits
 *   on the disk. For roots on network file systems (NFS, SMB, FUSE) where a call can take milliseconds
 *   or hang (LocalStorage option `blockingMetadata: false`).
 *
 * File data (writes, fdatasync, reads of more than 64 KiB) always goes through the thread pool; under
 * `blocking`, LocalStorage reads small files (up to 64 KiB) on the event loop as well. Both flavours
 * return promises, so the code that uses them is the same; the blocking one costs a microtask, not a
 * thread hop. Descriptors are plain numbers (no FileHandle): cheaper, and the caller closes them.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export interface MetaFs {
  realpath(path: string): Promise<string>;
  stat(path: string): Promise<fs.Stats>;
  lstat(path: string): Promise<fs.Stats>;
  open(path: string, flags: number, mode?: number): Promise<number>;
  fstat(fd: number): Promise<fs.Stats>;
  readlink(path: string): Promise<string>;
  /** Closes a descriptor that was only read (written ones are closed through the thread pool). */
  close(fd: number): Promise<void>;
  /** Opens a directory for reading its entries (see `DirReader`). */
  opendir(path: string, bufferSize: number): Promise<fs.Dir>;
  /** The next `max` entries of `dir` (fewer only at its end). */
  readEntries(dir: fs.Dir, max: number): Promise<fs.Dirent[]>;
  /** lstat of each path (stat with `follow`); undefined for one that is gone or unreachable. */
  statEach(paths: readonly string[], follow: boolean): Promise<(fs.Stats | undefined)[]>;
  /** Whether calls run on the event loop (the listing then yields to it between batches). */
  readonly blocking: boolean;
}

/** Runs `f` now; its result or exception as a settled promise. */
function now<T>(f: () => T): Promise<T> {
  try {
    return Promise.resolve(f());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

export const blockingFs: MetaFs = {
  blocking: true,
  realpath: (path) => now(() => fs.realpathSync.native(path)),
  stat: (path) => now(() => fs.statSync(path)),
  lstat: (path) => now(() => fs.lstatSync(path)),
  open: (path, flags, mode) => now(() => fs.openSync(path, flags, mode)),
  fstat: (fd) => now(() => fs.fstatSync(fd)),
  readlink: (path) => now(() => fs.readlinkSync(path)),
  close: (fd) => now(() => fs.closeSync(fd)),
  opendir: (path, bufferSize) => now(() => fs.opendirSync(path, { bufferSize })),
  readEntries: (dir, max) =>
    now(() => {
      const out: fs.Dirent[] = [];
      for (let d = out.length < max ? dir.readSync() : null; d !== null; d = out.length < max ? dir.readSync() : null) out.push(d);
      return out;
    }),
  statEach: (paths, follow) => {
    const out: (fs.Stats | undefined)[] = [];
    for (const path of paths) {
      try {
        out.push(follow ? fs.statSync(path, { throwIfNoEntry: false }) : fs.lstatSync(path, { throwIfNoEntry: false }));
      } catch {
        out.push(undefined);
      }
    }
    return Promise.resolve(out);
  },
};

const realpathP = promisify(fs.realpath.native);
const statP = promisify(fs.stat);
const lstatP = promisify(fs.lstat);
const openP = promisify(fs.open);
const fstatP = promisify(fs.fstat);
const readlinkP = promisify(fs.readlink);
const closeP = promisify(fs.close);
const opendirP = promisify(fs.opendir);

export const threadPoolFs: MetaFs = {
  blocking: false,
  realpath: (path) => realpathP(path),
  stat: (path) => statP(path),
  lstat: (path) => lstatP(path),
  open: (path, flags, mode) => openP(path, flags, mode),
  fstat: (fd) => fstatP(fd),
  readlink: (path) => readlinkP(path),
  close: (fd) => closeP(fd),
  opendir: (path, bufferSize) => opendirP(path, { bufferSize }),
  readEntries: async (dir, max) => {
    const out: fs.Dirent[] = [];
    for (let d = await dir.read(); d !== null; d = out.length < max ? await dir.read() : null) out.push(d);
    return out;
  },
  // In parallel: the pool has several threads.
  statEach: (paths, follow) => Promise.all(paths.map((path) => (follow ? statP(path) : lstatP(path)).catch(() => undefined))),
};
