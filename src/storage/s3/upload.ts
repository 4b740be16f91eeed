/**
 * One STOR into S3: the data is cut into parts of `partSize` bytes; the first full part begins a
 * multipart upload (and its mark, marks.ts), at most `queueSize` parts are in flight and the stream
 * waits for one to finish before taking more (bounded memory: about partSize x (queueSize + 1)). The
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
  private readonly sha256 = createHash('sha256');
  private chunks: Buffer[] = [];
  private buffered = 0;
  private partNumber = 0;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private uploadId: Promise<string> | undefined;
  private failure: Error | undefined;
  private done = false;
  private committed = false;

  constructor(private readonly t: UploadTarget) {
    this.stream = new Writable({
      highWaterMark: 1024 * 1024,
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

  /** Adds data; resolves when there is room for more (a part slot free). */
  private async take(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.done) throw new Error('upload already ended');
    this.sha256.update(chunk);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= this.t.partSize) {
      const all = Buffer.concat(this.chunks, this.buffered);
      const part = all.subarray(0, this.t.partSize);
      const rest = all.subarray(this.t.partSize);
      this.chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
      this.buffered = rest.length;
      await this.sendPart(part);
    }
  }

  /** Sends one part in the background, after waiting for a free slot. */
  private async sendPart(body: Buffer): Promise<void> {
    while (this.inFlight.size >= this.t.queueSize) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const number = ++this.partNumber;
    const uploadId = (this.uploadId ??= this.begin());
    const sending = (async () => {
      const id = await uploadId;
      const res = await this.t.client.send(new UploadPartCommand({ Bucket: this.t.bucket, Key: this.t.key, UploadId: id, PartNumber: number, Body: body }));
      this.parts.push({ PartNumber: number, ETag: res.ETag });
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
        const body = Buffer.concat(this.chunks, this.buffered);
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
      if (this.buffered > 0) await this.sendPart(Buffer.concat(this.chunks, this.buffered));
      this.chunks = [];
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
    this.chunks = [];
    this.buffered = 0;
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
