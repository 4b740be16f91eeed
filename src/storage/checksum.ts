/**
 * Checksums by reading: the `checksum` capability of backends that have no faster way (LocalStorage,
 * MemoryStorage), shared so every backend hashes byte ranges the same way. A backend that knows its
 * digests (an object store's stored MD5 or SHA-256) implements `checksum` itself.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { StorageError } from '../base/errors.js';
import type { HashAlgorithm, Storage } from './storage.js';
import type { VirtualPath } from '../base/virtual-path.js';

/** Every algorithm of HASH (draft-bryan-ftpext-hash), in the order FEAT lists them. */
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['SHA-256', 'SHA-1', 'MD5', 'CRC32'];

const NODE_NAMES: Record<Exclude<HashAlgorithm, 'CRC32'>, string> = { 'SHA-256': 'sha256', 'SHA-1': 'sha1', MD5: 'md5' };

/**
 * The digest of the first `length` bytes of `stream` (all of it when `length` is undefined), as
 * lower-case hex; CRC32 as 8 hex digits. The stream is destroyed when done.
 */
export async function hashStream(stream: Readable, algorithm: HashAlgorithm, length?: number): Promise<string> {
  let left = length ?? Infinity;
  let crc = 0;
  const hash = algorithm === 'CRC32' ? undefined : createHash(NODE_NAMES[algorithm]);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      if (left <= 0) break;
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const part = buf.length <= left ? buf : buf.subarray(0, left);
      left -= part.length;
      if (hash) hash.update(part);
      else crc = crc32(part, crc);
    }
  } finally {
    stream.destroy();
  }
  return hash ? hash.digest('hex') : crc.toString(16).padStart(8, '0');
}

/**
 * Hashes bytes [start, end) of a file by reading it through `storage.read`; a range past the end of the
 * file covers what there is. A directory is EISDIR, a missing file ENOENT (from `read`).
 */
export async function checksumByReading(storage: Pick<Storage, 'read'>, path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string> {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StorageError('EINVAL', `invalid byte range ${start}-${end}`);
  }
  const stream = await storage.read(path, { start });
  return hashStream(stream, algorithm, end - start);
}
