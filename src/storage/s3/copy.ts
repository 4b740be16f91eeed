/**
 * Server-side copies: CopyObject up to 5 GiB, a multipart copy (UploadPartCopy) above; with `metadata`
 * the copy's metadata is replaced (setTime), else kept. Used by rename (copy, then delete) and MFMT.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

/**
 * INTERNAL, for the tests only (not an option): above `singleMax` bytes a copy is a multipart copy in
 * parts of at least `minPart`. S3's limits are 5 GiB and the parts here 512 MiB; test/storage/s3.test.ts
 * lowers both to run the multipart copy against Swift with a small object, then puts them back.
 */
export const copyLimits = { singleMax: 5 * 1024 ** 3, minPart: 512 * 1024 ** 2 };

export interface CopySpec {
  client: S3Client;
  bucket: string;
  from: string;
  to: string;
  size: number;
  /** New metadata for the copy; undefined keeps the source's. */
  metadata?: Record<string, string> | undefined;
  storageClass?: string;
  serverSideEncryption?: string;
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export async function copyObject(c: CopySpec): Promise<void> {
  const common = { Bucket: c.bucket, Key: c.to, StorageClass: c.storageClass as never, ServerSideEncryption: c.serverSideEncryption as never };
  if (c.size <= copyLimits.singleMax) {
    await c.client.send(
      new CopyObjectCommand({
        ...common,
        CopySource: copySource(c.bucket, c.from),
        ...(c.metadata ? { Metadata: c.metadata, MetadataDirective: 'REPLACE' as const } : {}),
      }),
    );
    return;
  }
  // Above 5 GiB: parts of at least 512 MiB, at most 10,000 of them.
  const partSize = Math.max(copyLimits.minPart, Math.ceil(c.size / 10_000));
  // A multipart copy does not carry the source's metadata over by itself.
  const metadata = c.metadata ?? (await c.client.send(new HeadObjectCommand({ Bucket: c.bucket, Key: c.from }))).Metadata;
  const created = await c.client.send(new CreateMultipartUploadCommand({ ...common, Metadata: metadata }));
  const uploadId = created.UploadId!;
  try {
    const parts = [];
    for (let start = 0, n = 1; start < c.size; start += partSize, n++) {
      const end = Math.min(c.size, start + partSize) - 1;
      const res = await c.client.send(
        new UploadPartCopyCommand({ Bucket: c.bucket, Key: c.to, UploadId: uploadId, PartNumber: n, CopySource: copySource(c.bucket, c.from), CopySourceRange: `bytes=${start}-${end}` }),
      );
      parts.push({ PartNumber: n, ETag: res.CopyPartResult?.ETag });
    }
    await c.client.send(new CompleteMultipartUploadCommand({ Bucket: c.bucket, Key: c.to, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  } catch (err) {
    await c.client.send(new AbortMultipartUploadCommand({ Bucket: c.bucket, Key: c.to, UploadId: uploadId })).catch(() => {});
    throw err;
  }
}
