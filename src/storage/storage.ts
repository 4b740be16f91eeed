/**
 * The storage seam. A backend sees only `VirtualPath`s (already normalised and confined by the protocol
 * layer) and must keep its own resolution inside its root.
 *
 * The interface is shaped so that an object store fits: directories may be virtual, writes are
 * streamed and made visible at `commit()` (no in-place random writes are required: `offset` writes are
 * optional and may throw `ENOTSUP`), and rename may be refused. Errors are `StorageError`s (or Node
 * errno errors) named by POSIX code: ENOENT, ENOTDIR, EISDIR, EEXIST, EACCES, ENOTEMPTY, ENOSPC, EDQUOT.
 *
 * Optional methods are capabilities: each one switches on the commands (and FEAT lines) that need it,
 * and without it they do not exist for the user (502, not in FEAT or HELP):
 *
 * | capability  | commands                         |
 * |-------------|----------------------------------|
 * | `setTime`   | MFMT (FEAT `MFMT`)               |
 * | `chmod`     | SITE CHMOD                       |
 * | `checksum`  | HASH (FEAT `HASH ...`), OPTS HASH |
 * | `freeSpace` | AVBL (FEAT `AVBL`); ALLO checks it |
 * | `symlink`   | SITE SYMLINK                     |
 *
 * Every method is async; a backend implements what it can and leaves the rest out (not as a method
 * that throws: the server looks at whether the method exists).
 *
 * One optional method is a shortcut, not a capability (it switches no command on or off): `openRead`
 * opens a file and tells its stat in one step. RETR uses it when it is there, else `stat` then `read`.
 */
import type { Readable, Writable } from 'node:stream';
import type { VirtualPath } from '../base/virtual-path.js';

/** A file or a directory (links are followed; other kinds are not shown). */
export type FileType = 'file' | 'dir';

/** What `stat` and `list` tell about an entry. */
export interface FileStat {
  /** The entry's name (its last path segment). */
  readonly name: string;
  readonly type: FileType;
  /** Size in bytes (0 for directories where the backend has no size). */
  readonly size: number;
  /** Last modification time. */
  readonly mtime: Date;
  /** POSIX permission bits (e.g. 0o644), if the backend has them. */
  readonly mode?: number;
  readonly owner?: string;
  readonly group?: string;
  readonly nlink?: number;
  /** A value that identifies the file on this server (MLSx `unique` fact). */
  readonly unique?: string;
}

/** Options of `Storage.read`. */
export interface ReadOptions {
  /** First byte to read (REST). */
  start?: number;
}

/** What `Storage.openRead` gives: the file's stat and its bytes from the start asked for. */
export interface OpenedFile {
  /** The stat of the object `stream` reads (its size when it was opened). */
  readonly stat: FileStat;
  /** As `read` returns it: destroy it when done. */
  readonly stream: Readable;
}

/** How `Storage.write` writes. */
export interface WriteOptions {
  /**
   * `replace`: the new content replaces the file (or creates it) only when the upload commits;
   * `append`: data is added at the end (APPE); `offset`: data is written from `offset` on, and the file
   * ends where the data ends (REST + STOR). Backends that cannot write in place throw ENOTSUP for it.
   */
  mode: 'replace' | 'append' | 'offset';
  offset?: number;
}

/**
 * An upload in progress. The protocol layer writes into `stream`, ends it, then calls `commit()` when the
 * whole upload arrived, or `abort()` when it did not. A `replace` upload that aborts never changes the
 * existing file.
 */
export interface Upload {
  readonly stream: Writable;
  /**
   * true: a chunk written to `stream` is no longer referenced once that write's callback ran, so the
   * writer may reuse its memory (the upload path then writes from a few pooled buffers). Leave it out
   * (or false) when the backend or a wrapper keeps chunks longer (in memory, until a part is sent, ...).
   */
  readonly releasesWrittenChunks?: boolean;
  /**
   * Makes the upload final. `signal` is the session's: it aborts when the client goes away (its control
   * connection ends) while the commit runs. A backend that can should check it just before the upload
   * becomes visible (a rename, the last request) and, if it aborted, leave things as `abort()` would and
   * reject; one that ignores it only commits an upload whose client left during its last steps.
   */
  commit(signal?: AbortSignal): Promise<void>;
  abort(): Promise<void>;
}

/** The algorithms of HASH (draft-bryan-ftpext-hash). */
export type HashAlgorithm = 'SHA-256' | 'SHA-1' | 'MD5' | 'CRC32';

/**
 * A user's files: eight async methods, plus optional capabilities that switch on more commands (see the
 * table above). Paths are `VirtualPath`s, already normalised and confined; errors carry a POSIX name.
 */
export interface Storage {
  stat(path: VirtualPath): Promise<FileStat>;
  /** The entries of a directory, without `.` and `..`; streamed so huge directories fit in memory. */
  list(path: VirtualPath): AsyncIterable<FileStat>;
  read(path: VirtualPath, options?: ReadOptions): Promise<Readable>;
  write(path: VirtualPath, options: WriteOptions): Promise<Upload>;
  mkdir(path: VirtualPath): Promise<void>;
  rmdir(path: VirtualPath): Promise<void>;
  remove(path: VirtualPath): Promise<void>;
  rename(from: VirtualPath, to: VirtualPath): Promise<void>;

  /** Capability: set the modification time (MFMT). */
  setTime?(path: VirtualPath, mtime: Date): Promise<void>;
  /** Capability: change POSIX permission bits (SITE CHMOD). */
  chmod?(path: VirtualPath, mode: number): Promise<void>;
  /**
   * Capability: the digest of bytes [start, end) of a file (HASH), as lower-case hex (CRC32: 8 hex
   * digits). `end` is at most the file's size. Backends without stored digests can use
   * `checksumByReading` (it hashes what `read` returns).
   */
  checksum?(path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string>;
  /** Capability: free bytes available to this user below `path` (AVBL; ALLO checks it). */
  freeSpace?(path: VirtualPath): Promise<number>;
  /**
   * Shortcut (optional, no command depends on it): what `stat` and then `read` of a file give, in one step,
   * with the stat taken from the object that is read. RETR calls it, when it is there, instead of `stat`
   * and `read`: a backend that can learn both at once (LocalStorage: one path resolution, the size from
   * the open descriptor) saves the second lookup. The errors are those of `stat` and `read`: a missing
   * file ENOENT, a directory EISDIR. A `start` past the end is not an error (the stream is empty): the
   * caller compares it with `stat.size`. A wrapper of a backend must offer it only if its `stat` and
   * `read` add nothing (ForwardingStorage does not forward it). A subclass (or `Object.create()` wrapper)
   * that overrides `stat` or `read` but inherits `openRead` is safe: RETR then uses `stat` and `read`
   * (read-shortcut.ts).
   */
  openRead?(path: VirtualPath, options?: ReadOptions): Promise<OpenedFile>;
  /**
   * Capability: create `link` as a symbolic link to the existing entry `target` (SITE SYMLINK). Both
   * are virtual paths of this storage; a backend must keep the link inside its root (LocalStorage
   * writes a relative link). `link` must not exist (EEXIST); a missing target is ENOENT.
   */
  symlink?(target: VirtualPath, link: VirtualPath): Promise<void>;
}
