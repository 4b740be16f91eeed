/**
 * LocalStorage's uploads on open descriptors (see local.ts): how the data is committed or dropped, and the
 * `keep` policy for partial files.
 */
import { once } from 'node:events';
import type { WriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { StorageError } from '../protocol/errors.js';
import type { Upload } from './storage.js';

/** A directory checked to be inside the root; `at(name)` names an entry of that very directory. */
export interface CheckedDir {
  /** `/proc/self/fd/N` while the directory is held open, else its real path. */
  readonly path: string;
  at(name: string): string;
  close(): Promise<void>;
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
 * An upload on an open descriptor. On commit, once all data is written: `beforeClose` (on the open
 * descriptor), then `commit` (after it is closed); `abort` runs after the descriptor is closed. A commit
 * that fails aborts the upload itself, so nothing is left behind either way.
 */
export function descriptorUpload(
  handle: FileHandle,
  stream: WriteStream,
  dir: CheckedDir,
  done: { beforeClose: (() => Promise<void>) | undefined; commit(): Promise<void>; abort(): Promise<void> },
): Upload {
  let settled = false;
  // The stream holds a reference on the handle: closing the stream is what closes the descriptor.
  const close = async () => {
    if (!stream.closed) {
      const closed = once(stream, 'close').catch(() => {});
      stream.destroy();
      await closed;
    }
    await handle.close().catch(() => {});
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
    async commit() {
      if (settled) throw new StorageError('EINVAL', 'upload already finished');
      try {
        if (!stream.writableFinished) await finished(stream);
        await done.beforeClose?.();
        await close();
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
