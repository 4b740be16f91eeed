/**
 * LocalStorage's uploads on open descriptors (see local.ts): how the data is committed or dropped, and the
 * `keep` policy for partial files.
 *
 * The write stream buffers up to `WRITE_BUFFER_BYTES` before it stops taking data: with Node's default
 * (16 KiB) every 64 KiB chunk from the socket paused and resumed the data connection, and the chunks
 * went to disk one write() each; with 1 MiB, what arrives while a write is in flight goes out in one
 * writev().
 */
import { once } from 'node:events';
import { close as fsClose, createWriteStream, fdatasync, ftruncate, type WriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { StorageError } from '../base/errors.js';
import type { Upload } from './storage.js';

/** A directory checked to be inside the root; `at(name)` names an entry of that very directory. */
export interface CheckedDir {
  /** `/proc/self/fd/N` while the directory is held open, else its real path. */
  readonly path: string;
  at(name: string): string;
  close(): Promise<void>;
}

/** How much an upload's file stream buffers (its highWaterMark). */
export const WRITE_BUFFER_BYTES = 1024 * 1024;

export const closeWritten: (fd: number) => Promise<void> = promisify(fsClose);
export const syncData: (fd: number) => Promise<void> = promisify(fdatasync);
export const truncateTo: (fd: number, len: number) => Promise<void> = promisify(ftruncate);

/** A write stream on an open descriptor; destroying the stream closes the descriptor. */
export function writeStreamOn(fd: number, start?: number): WriteStream {
  return createWriteStream('', { fd, autoClose: false, highWaterMark: WRITE_BUFFER_BYTES, ...(start === undefined ? {} : { start }) });
}

/** A Node fs error with this code (not a StorageError raised by a check). */
export function isFsError(err: unknown, code: string): boolean {
  return !(err instanceof StorageError) && (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** `keep` policy: the temp file becomes the target, unless a file of that name appeared meanwhile. */
export async function keepAs(temp: string, target: string): Promise<void> {
  try {
    await fs.link(temp, target); // never replaces an existing file
  } catch (err) {
    if (isFsError(err, 'EEXIST')) return;
    // No hard links on this file system: rename, if the name is still free.
    if (await fs.lstat(target).then(() => false, () => true)) await fs.rename(temp, target).catch(() => {});
  }
}

/**
 * An upload on an open descriptor (`stream` from `writeStreamOn`). On commit, once all data is written:
 * `beforeClose` (on the open descriptor), then `commit` (after it is closed) unless the commit's signal
 * aborted meanwhile; `abort` runs after the descriptor is closed. A commit that fails (or is aborted)
 * aborts the upload itself, so nothing is left behind either way.
 */
export function descriptorUpload(
  stream: WriteStream,
  dir: CheckedDir,
  done: { beforeClose: (() => Promise<void>) | undefined; commit(): Promise<void>; abort(): Promise<void> },
): Upload {
  let settled = false;
  // Destroying the stream closes the descriptor (once no write on it is in flight); never close it twice:
  // by then its number may name another file.
  const close = async () => {
    if (!stream.closed) {
      const closed = once(stream, 'close').catch(() => {});
      stream.destroy();
      await closed;
    }
  };
  const abort = async () => {
    if (settled) return;
    settled = true;
    await close();
    try {
      await done.abort();
    } finally {
      await dir.close().catch(() => {});
    }
  };
  return {
    stream,
    // A WriteStream's write callback runs once fs.write/writev is done with the chunk.
    releasesWrittenChunks: true,
    async commit(signal) {
      if (settled) throw new StorageError('EINVAL', 'upload already finished');
      try {
        if (!stream.writableFinished) await finished(stream);
        await done.beforeClose?.();
        await close();
        // The session ended during the flush and fdatasync: publish nothing.
        signal?.throwIfAborted();
        await done.commit();
      } catch (err) {
        await abort();
        throw err;
      }
      settled = true;
      await dir.close().catch(() => {});
    },
    abort,
  };
}
