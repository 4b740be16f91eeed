/**
 * One STOR into S3: the data is copied into parts of `partSize` bytes; the first full part begins a
 * multipart upload (and its mark, marks.ts). At most `queueSize` parts are held, the one being filled
 * and those in flight together: a new part is begun only when a slot is free, and until then the write
 * callback waits, so the data socket is paused (bounded memory: partSize x queueSize, plus the stream's
 * 256 KiB). The part buffers are reused within the upload (no garbage per part). The
 * object becomes visible only at `commit()`: the last part and CompleteMultipartUpload, or, for data
 * smaller than one part, a single PutObject. `abort()` aborts the multipart upload (no parts left billed).
 * The SHA-256 of the whole content is computed on the way; a single-part object keeps it in its metadata
 * (`ftpsd-sha256`), where HASH finds it.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Upload } from '../storage.js';
import { toStorageError } from './errors.js';
import type { Keys } from './keys.js';
import { deleteMark, putMark } from './marks.js';

/** Parts copied by APPE: at most 5 GiB each (S3's limit), fewer and larger when the object is huge. */
const COPY_PART = 5 * 1024 ** 3;

export interface UploadTarget {
  client: S3Client;
  bucket: string;
  keys: Keys;
  key: string;
  partSize: number;
  queueSize: number;
  /** Object metadata (the mtime, ...), without the digest. */
  metadata: Record<string, string>;
  storageClass?: string;
  serverSideEncryption?: string;
}

export class S3Upload implements Upload {
  readonly stream: Writable;
  /**
   * A written chunk is copied into a part (and hashed) before its write callback runs, so the receive
   * path may reuse it (receive-file.ts): no 1 MiB of garbage per megabyte uploaded.
   */
  readonly releasesWrittenChunks = true;
  private readonly sha256 = createHash('sha256');
  /** The part being filled (undefined: none begun), and how many bytes it holds. */
  private part: Buffer | undefined;
  private filled = 0;
  /** Part buffers whose upload finished, for the next parts. */
  private spare: Buffer[] = [];
  /** Part buffers this upload allocated (reused afterwards): at most queueSize; read by the tests. */
  partBuffers = 0;
  private partNumber = 0;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private uploadId: Promise<string> | undefined;
  private failure: Error | undefined;
  private done = false;
  private committed = false;

  constructor(private readonly t: UploadTarget) {
    this.stream = new Writable({
      highWaterMark: 256 * 1024,
      write: (chunk: Buffer, _enc, cb) => {
        this.take(chunk).then(() => cb(), cb);
      },
    });
  }

  /** APPE of a small object: its bytes go first, read back (less than one part). */
  async prefill(existing: Readable): Promise<void> {
    for await (const chunk of existing as AsyncIterable<Buffer>) await this.take(chunk);
  }

  /**
   * APPE of an object of at least 5 MiB: it becomes the first parts of the multipart upload by a
   * server-side copy (UploadPartCopy, at most 5 GiB a part); the new data follows.
   */
  async copyFirst(sourceKey: string, size: number): Promise<void> {
    const t = this.t;
    const uploadId = (this.uploadId ??= this.begin());
    const id = await uploadId;
    const source = `${t.bucket}/${sourceKey.split('/').map(encodeURIComponent).join('/')}`;
    const step = Math.max(COPY_PART, Math.ceil(size / 1000));
    for (let start = 0; start < size; start += step) {
      const number = ++this.partNumber;
      const end = Math.min(size, start + step) - 1;
      const res = await t.client.send(
        new UploadPartCopyCommand({ Bucket: t.bucket, Key: t.key, UploadId: id, PartNumber: number, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }),
      );
      this.parts.push({ PartNumber: number, ETag: res.CopyPartResult?.ETag });
    }
  }

  /** Adds data; resolves when it is all copied into parts (waiting for a free slot when a part is full). */
  private async take(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.done) throw new Error('upload already ended');
    this.sha256.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      this.part ??= await this.freePart();
      const n = chunk.copy(this.part, this.filled, offset);
      offset += n;
      this.filled += n;
      if (this.filled === this.t.partSize) {
        this.sendPart(this.part, this.filled);
        this.part = undefined;
        this.filled = 0;
      }
    }
  }

  /** A buffer for the next part, once fewer than queueSize parts are in flight. */
  private async freePart(): Promise<Buffer> {
    while (this.inFlight.size >= this.t.queueSize) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const spare = this.spare.pop();
    if (spare) return spare;
    this.partBuffers++;
    return Buffer.allocUnsafe(this.t.partSize);
  }

  /** Sends the first `length` bytes of `buffer` as the next part, in the background (a slot is free). */
  private sendPart(buffer: Buffer, length: number): void {
    const number = ++this.partNumber;
    const uploadId = (this.uploadId ??= this.begin());
    const sending = (async () => {
      const id = await uploadId;
      const res = await this.t.client.send(
        new UploadPartCommand({ Bucket: this.t.bucket, Key: this.t.key, UploadId: id, PartNumber: number, Body: buffer.subarray(0, length), ContentLength: length }),
      );
      this.parts.push({ PartNumber: number, ETag: res.ETag });
      if (!this.done && length === buffer.length) this.spare.push(buffer);
    })().catch((err: unknown) => {
      this.failure ??= toStorageError(err, 'upload part');
    });
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  private async begin(): Promise<string> {
    const t = this.t;
    const res = await t.client.send(
      new CreateMultipartUploadCommand({
        Bucket: t.bucket,
        Key: t.key,
        Metadata: t.metadata,
        StorageClass: t.storageClass as never,
        ServerSideEncryption: t.serverSideEncryption as never,
      }),
    );
    const id = res.UploadId!;
    await putMark(t.client, t.bucket, t.keys, t.key, id);
    return id;
  }

  private async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  async commit(signal?: AbortSignal): Promise<void> {
    const t = this.t;
    try {
      if (!this.stream.writableFinished) await finished(this.stream);
      if (this.failure) throw this.failure;
      if (this.uploadId === undefined) {
        const body = this.part?.subarray(0, this.filled) ?? Buffer.alloc(0);
        const digest = this.sha256.digest('hex');
        signal?.throwIfAborted();
        this.done = true;
        await t.client.send(
          new PutObjectCommand({
            Bucket: t.bucket,
            Key: t.key,
            Body: body,
            ContentLength: body.length,
            Metadata: { ...t.metadata, 'ftpsd-sha256': digest },
            StorageClass: t.storageClass as never,
            ServerSideEncryption: t.serverSideEncryption as never,
          }),
        );
        this.committed = true;
        return;
      }
      if (this.filled > 0) this.sendPart(this.part!, this.filled);
      this.part = undefined;
      this.spare = [];
      await this.settle();
      if (this.failure) throw this.failure;
      signal?.throwIfAborted();
      this.done = true;
      const id = await this.uploadId;
      const parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
      await t.client.send(new CompleteMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: id, MultipartUpload: { Parts: parts } }));
      this.committed = true;
      await deleteMark(t.client, t.bucket, t.keys, id).catch(() => {});
    } catch (err) {
      await this.abort();
      throw toStorageError(err, 'commit');
    }
  }

  async abort(): Promise<void> {
    if (this.committed) return;
    this.failure ??= new Error('upload aborted');
    this.done = true;
    this.part = undefined;
    this.filled = 0;
    this.spare = [];
    if (!this.stream.destroyed) this.stream.destroy();
    if (this.uploadId === undefined) return;
    const pending = this.uploadId;
    this.uploadId = undefined;
    await this.settle();
    let id: string;
    try {
      id = await pending;
    } catch {
      return; // the upload never began
    }
    const t = this.t;
    await t.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: t.key, UploadId: id })).catch(() => {});
    await deleteMark(t.client, t.bucket, t.keys, id).catch(() => {});
  }
}
