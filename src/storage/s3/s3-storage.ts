/**
 * S3Storage: a bucket (or a key prefix in it) as the root of a Storage, over any S3-compatible store.
 *
 * Directories are key prefixes: MKD writes a `dir/` marker so empty directories exist, and a prefix with
 * objects but no marker is listed as a directory too. Listings page through ListObjectsV2 with a
 * delimiter (list.ts); STOR is a multipart upload visible only at commit (upload.ts); RETR a GetObject,
 * REST a ranged GET; SIZE/MDTM/MLST a HeadObject. RNFR/RNTO copies then deletes (copy.ts), a directory
 * object by object up to `maxRenameObjects`. APPE re-uses the existing object server-side (UploadPartCopy
 * when it is at least 5 MiB, else it is read back into the first part); REST + STOR (offset writes) is
 * ENOTSUP. MFMT keeps the time in the object's metadata (`ftpsd-mtime`). HASH SHA-256 comes from the
 * digest kept at upload or from the store's full-object SHA-256 checksum, anything else by reading.
 */
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { FtpError, StorageError } from '../../base/errors.js';
import { Code } from '../../base/reply-codes.js';
import type { VirtualPath } from '../../base/virtual-path.js';
import { checksumByReading } from '../checksum.js';
import type { FileStat, HashAlgorithm, ReadOptions, Storage, Upload, WriteOptions } from '../storage.js';
import { coalesced } from './coalesce.js';
import { copyObject } from './copy.js';
import { isNotFound, s3Call, statusOf, toStorageError } from './errors.js';
import { Keys, UPLOADS_DIR } from './keys.js';
import { listPages } from './list.js';
import { normalisePrefix, S3_DEFAULTS, type S3StorageOptions } from './options.js';
import { S3Upload } from './upload.js';

const MIB = 1024 * 1024;
/** S3's smallest part (all but the last). */
const MIN_PART = 5 * MIB;
const MTIME_KEY = 'ftpsd-mtime';
const SHA256_KEY = 'ftpsd-sha256';
const ROOT_HIDDEN = new Set([UPLOADS_DIR]);

type Kind = { type: 'file'; head: HeadObjectCommandOutput } | { type: 'dir'; head?: HeadObjectCommandOutput | undefined };

export class S3Storage implements Storage {
  readonly client: S3Client;
  readonly bucket: string;
  readonly keys: Keys;
  private readonly options: S3StorageOptions;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3StorageOptions) {
    this.options = options;
    this.client = options.client;
    this.bucket = options.bucket;
    const prefix = normalisePrefix(options.prefix ?? '');
    this.keys = new Keys(prefix, options.marksPrefix ?? prefix);
    this.partSize = Math.max(MIN_PART, Math.round((options.partSizeMiB ?? S3_DEFAULTS.partSizeMiB) * MIB));
    this.queueSize = Math.max(1, Math.floor(options.queueSize ?? S3_DEFAULTS.queueSize));
  }

  /** The storage of a key prefix below this root (a user's home), sharing the client. */
  below(sub: string): S3Storage {
    return new S3Storage({ ...this.options, prefix: this.keys.prefix + normalisePrefix(sub), marksPrefix: this.keys.marksPrefix });
  }

  private async head(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toStorageError(err, 'head');
    }
  }

  /** Whether any key lies below `dirKey` other than `except`. */
  private async hasKeysBelow(dirKey: string, except?: string): Promise<boolean> {
    const page = await s3Call('list', () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dirKey, MaxKeys: 2 })));
    return (page.Contents ?? []).some((o) => o.Key !== except);
  }

  /** What is at `path`: a file (an object), a directory (marker or prefix), or nothing. */
  private async kind(path: VirtualPath): Promise<Kind | undefined> {
    if (path.length === 0) return { type: 'dir' };
    if (this.keys.reserved(path)) return undefined;
    const [file, marker] = await Promise.all([this.head(this.keys.file(path)), this.head(this.keys.dir(path))]);
    if (file) return { type: 'file', head: file };
    if (marker) return { type: 'dir', head: marker };
    return (await this.hasKeysBelow(this.keys.dir(path))) ? { type: 'dir' } : undefined;
  }

  private async parentMustBeDir(path: VirtualPath): Promise<void> {
    if (path.length <= 1) return;
    const parent = await this.kind(path.slice(0, -1));
    if (!parent) throw new StorageError('ENOENT');
    if (parent.type !== 'dir') throw new StorageError('ENOTDIR');
  }

  private mutable(path: VirtualPath): void {
    if (path.length === 0) throw new StorageError('EACCES', 'the root itself');
    if (this.keys.reserved(path)) throw new StorageError('EACCES', 'a reserved name');
  }

  private static mtimeOf(head: HeadObjectCommandOutput | undefined): Date {
    const kept = head?.Metadata?.[MTIME_KEY];
    const date = kept ? new Date(kept) : head?.LastModified;
    return date && !Number.isNaN(date.getTime()) ? date : new Date();
  }

  async stat(path: VirtualPath): Promise<FileStat> {
    const kind = await this.kind(path);
    if (!kind) throw new StorageError('ENOENT');
    const name = path.length === 0 ? '/' : path[path.length - 1]!;
    if (kind.type === 'dir') return { name, type: 'dir', size: 0, mtime: S3Storage.mtimeOf(kind.head) };
    return { name, type: 'file', size: kind.head.ContentLength ?? 0, mtime: S3Storage.mtimeOf(kind.head) };
  }

  async *list(path: VirtualPath): AsyncIterable<FileStat> {
    if (this.keys.reserved(path)) throw new StorageError('ENOENT');
    let first = true;
    for await (const page of listPages(this.client, this.bucket, this.keys.dir(path), path.length === 0 ? ROOT_HIDDEN : undefined)) {
      if (first && path.length > 0 && !page.seen) {
        throw new StorageError((await this.head(this.keys.file(path))) ? 'ENOTDIR' : 'ENOENT');
      }
      first = false;
      yield* page.dirs;
      yield* page.files;
    }
  }

  async read(path: VirtualPath, options: ReadOptions = {}): Promise<Readable> {
    if (path.length === 0) throw new StorageError('EISDIR');
    if (this.keys.reserved(path)) throw new StorageError('ENOENT');
    const start = options.start ?? 0;
    try {
      const got = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.keys.file(path), ...(start > 0 ? { Range: `bytes=${start}-` } : {}) }),
      );
      return coalesced(got.Body as Readable);
    } catch (err) {
      if (statusOf(err) === 416 || (err as { name?: string }).name === 'InvalidRange') return Readable.from([]); // REST at or past the end
      if (isNotFound(err)) throw new StorageError((await this.kind(path))?.type === 'dir' ? 'EISDIR' : 'ENOENT');
      throw toStorageError(err, 'read');
    }
  }

  async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    if (options.mode === 'offset') throw new StorageError('ENOTSUP', 'objects cannot be written in place (REST + STOR)');
    this.mutable(path);
    const [, existing] = await Promise.all([this.parentMustBeDir(path), this.kind(path)]);
    if (existing?.type === 'dir') throw new StorageError('EISDIR');
    const key = this.keys.file(path);
    const upload = new S3Upload({
      client: this.client,
      bucket: this.bucket,
      keys: this.keys,
      key,
      partSize: this.partSize,
      queueSize: this.queueSize,
      metadata: {},
      storageClass: this.options.storageClass,
      serverSideEncryption: this.options.serverSideEncryption,
    });
    if (options.mode === 'append' && existing?.type === 'file') {
      const size = existing.head.ContentLength ?? 0;
      try {
        if (size >= MIN_PART) await upload.copyFirst(key, size);
        else if (size > 0) await upload.prefill(await this.read(path));
      } catch (err) {
        await upload.abort();
        throw toStorageError(err, 'append');
      }
    }
    return upload;
  }

  async mkdir(path: VirtualPath): Promise<void> {
    this.mutable(path);
    const [, existing] = await Promise.all([this.parentMustBeDir(path), this.kind(path)]);
    if (existing) throw new StorageError('EEXIST');
    await s3Call('mkdir', () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keys.dir(path), Body: '', ContentLength: 0 })));
  }

  async rmdir(path: VirtualPath): Promise<void> {
    this.mutable(path);
    const kind = await this.kind(path);
    if (!kind) throw new StorageError('ENOENT');
    if (kind.type !== 'dir') throw new StorageError('ENOTDIR');
    const dirKey = this.keys.dir(path);
    if (await this.hasKeysBelow(dirKey, dirKey)) throw new StorageError('ENOTEMPTY');
    await s3Call('rmdir', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: dirKey })));
  }

  async remove(path: VirtualPath): Promise<void> {
    this.mutable(path);
    const kind = await this.kind(path);
    if (!kind) throw new StorageError('ENOENT');
    if (kind.type === 'dir') throw new StorageError('EISDIR');
    await s3Call('remove', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keys.file(path) })));
  }

  async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    this.mutable(from);
    this.mutable(to);
    const source = await this.kind(from);
    if (!source) throw new StorageError('ENOENT');
    if (from.length === to.length && from.every((s, i) => to[i] === s)) return;
    await this.parentMustBeDir(to);
    const target = await this.kind(to);
    if (source.type === 'file') {
      if (target?.type === 'dir') throw new StorageError('EISDIR');
      await this.copy(this.keys.file(from), this.keys.file(to), source.head.ContentLength ?? 0);
      await s3Call('rename', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keys.file(from) })));
      return;
    }
    if (to.length > from.length && from.every((s, i) => to[i] === s)) throw new StorageError('EINVAL', 'a directory cannot move into itself');
    if (target?.type === 'file') throw new StorageError('ENOTDIR');
    const fromKey = this.keys.dir(from);
    const toKey = this.keys.dir(to);
    if (target?.type === 'dir' && (await this.hasKeysBelow(toKey, toKey))) throw new StorageError('ENOTEMPTY');
    const objects = await this.objectsBelow(fromKey, this.options.maxRenameObjects ?? S3_DEFAULTS.maxRenameObjects);
    await inBatches(objects, 8, (o) => this.copy(o.key, toKey + o.key.slice(fromKey.length), o.size));
    await inBatches(objects, 8, async (o) => {
      await s3Call('rename', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: o.key })));
    });
  }

  /** Every object below `dirKey` (its marker included), refused past `max`. */
  private async objectsBelow(dirKey: string, max: number): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await s3Call('list', () => this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dirKey, ContinuationToken: token })));
      for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 });
      if (out.length > max) {
        throw new FtpError(Code.fileUnavailable, `Directory too large to rename on object storage (more than ${max} objects).`, { code: 'FTP_ERR_UNSUPPORTED' });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  private copy(from: string, to: string, size: number, metadata?: Record<string, string>): Promise<void> {
    return s3Call('copy', () =>
      copyObject({
        client: this.client,
        bucket: this.bucket,
        from,
        to,
        size,
        metadata,
        storageClass: this.options.storageClass,
        serverSideEncryption: this.options.serverSideEncryption,
      }),
    );
  }

  async setTime(path: VirtualPath, mtime: Date): Promise<void> {
    const kind = await this.kind(path);
    if (!kind) throw new StorageError('ENOENT');
    if (path.length === 0) throw new StorageError('EACCES', 'the root itself');
    const metadata = { ...(kind.head?.Metadata ?? {}), [MTIME_KEY]: mtime.toISOString() };
    if (kind.type === 'dir') {
      await s3Call('setTime', () => this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.keys.dir(path), Body: '', ContentLength: 0, Metadata: metadata })));
      return;
    }
    const key = this.keys.file(path);
    await this.copy(key, key, kind.head.ContentLength ?? 0, metadata);
  }

  async checksum(path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string> {
    if (algorithm === 'SHA-256' && start === 0 && path.length > 0 && !this.keys.reserved(path)) {
      const head = await this.head(this.keys.file(path));
      if (head && end === (head.ContentLength ?? -1)) {
        const kept = head.Metadata?.[SHA256_KEY];
        if (kept && /^[0-9a-f]{64}$/.test(kept)) return kept;
        if (head.ChecksumSHA256 && head.ChecksumType === 'FULL_OBJECT') return Buffer.from(head.ChecksumSHA256, 'base64').toString('hex');
      }
    }
    return checksumByReading(this, path, algorithm, start, end);
  }
}

async function inBatches<T>(items: readonly T[], width: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(each));
}
