/**
 * What the storage contract's cases share: fixtures (put, partial uploads, data), reads, and checks of
 * the errors a backend gives (a POSIX name the protocol layer maps to a reply).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { errorToReply } from '../base/errors.js';
import type { FileStat, HashAlgorithm, Storage, Upload, WriteOptions } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';

/** The POSIX error name an error carries (`errno` of a StorageError, `code` of a Node error). */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { errno, code } = err as { errno?: unknown; code?: unknown };
  if (typeof errno === 'string') return errno;
  if (typeof code === 'string') return code;
  return undefined;
}

/** Adds a named case; `body` gets a fresh storage from the contract's factory. */
export type DefineCase = (name: string, body: (storage: Storage) => Promise<void>) => void;

/** Expects `action` to fail with one of `errnos`, and the error to map to a deliberate reply. */
export async function rejectsWith(action: () => Promise<unknown>, errnos: string | readonly string[], what: string): Promise<void> {
  const allowed = typeof errnos === 'string' ? [errnos] : errnos;
  let error: unknown;
  let failed = false;
  try {
    await action();
  } catch (err) {
    failed = true;
    error = err;
  }
  assert.ok(failed, `${what}: expected an error (${allowed.join(' or ')}), but it succeeded`);
  const errno = errnoOf(error);
  assert.ok(errno !== undefined && allowed.includes(errno), `${what}: expected ${allowed.join(' or ')}, got ${errno ?? String(error)}`);
  assert.equal(errorToReply(error).expected, true, `${what}: ${errno} is not mapped to a reply`);
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export async function listNames(storage: Storage, path: VirtualPath): Promise<string[]> {
  return (await collect(storage.list(path))).map((e) => e.name).sort();
}

export async function readAll(storage: Storage, path: VirtualPath, start?: number): Promise<Buffer> {
  const stream = await storage.read(path, start === undefined ? {} : { start });
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Writes all of `data` (in chunks of at most `chunkSize`) into the upload and ends its stream. */
export async function send(upload: Upload, data: Buffer | string, chunkSize = 64 * 1024): Promise<void> {
  const buf = Buffer.from(data);
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunkSize) chunks.push(buf.subarray(i, i + chunkSize));
  await pipeline(Readable.from(chunks), upload.stream);
}

/** Writes a whole file and commits it. */
export async function put(storage: Storage, path: VirtualPath, data: Buffer | string, options: WriteOptions = { mode: 'replace' }): Promise<void> {
  const upload = await storage.write(path, options);
  try {
    await send(upload, data);
    await upload.commit();
  } catch (err) {
    await upload.abort().catch(() => {});
    throw err;
  }
}

/** Starts an upload and writes `data` without ending it. */
export async function partial(storage: Storage, path: VirtualPath, data: Buffer | string, options: WriteOptions = { mode: 'replace' }): Promise<Upload> {
  const upload = await storage.write(path, options);
  await new Promise<void>((resolve, reject) => upload.stream.write(Buffer.from(data), (err) => (err ? reject(err) : resolve())));
  return upload;
}

/** An upload that must fail, at `write()` or at the latest at `commit()`. */
export async function failedPut(storage: Storage, path: VirtualPath, options: WriteOptions = { mode: 'replace' }): Promise<void> {
  const upload = await storage.write(path, options);
  try {
    await send(upload, 'x');
    await upload.commit();
  } catch (err) {
    await upload.abort().catch(() => {});
    throw err;
  }
}

/** Runs `write()` and reports ENOTSUP as `undefined` (offset writes are optional). */
export async function unlessUnsupported(action: () => Promise<void>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch (err) {
    if (errnoOf(err) === 'ENOTSUP') return false;
    throw err;
  }
}

export function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export function assertStat(st: FileStat, name: string, type: 'file' | 'dir', size?: number): void {
  assert.equal(st.name, name, 'stat name');
  assert.equal(st.type, type, `type of ${name}`);
  if (size !== undefined) assert.equal(st.size, size, `size of ${name}`);
  assert.ok(st.mtime instanceof Date && !Number.isNaN(st.mtime.getTime()), `mtime of ${name} is a valid Date`);
}

export function referenceHash(data: Buffer, algorithm: HashAlgorithm): string {
  if (algorithm === 'CRC32') return crc32(data).toString(16).padStart(8, '0');
  const names = { 'SHA-256': 'sha256', 'SHA-1': 'sha1', MD5: 'md5' } as const;
  return createHash(names[algorithm]).update(data).digest('hex');
}

export const MUTATIONS_OF_ROOT = ['EACCES', 'EPERM', 'EBUSY', 'EINVAL', 'EISDIR', 'ENOTEMPTY', 'EEXIST'];
