/**
 * The marks of this server's multipart uploads. S3 lists unfinished multipart uploads but keeps nothing
 * that says who began them, so each one ftpsd begins gets a small mark object under the root,
 * `.ftpsd-uploads/<uploadId>` (hidden from listings, not reachable by users), naming its key, host and
 * process. At start `abortStaleUploads` aborts the uploads whose process on this host is gone (a crash, a
 * kill) and removes their marks: no orphaned parts stay billed. Uploads of other hosts are left alone.
 */
import { AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hostname } from 'node:os';
import type { Keys } from './keys.js';
import { UPLOADS_DIR } from './keys.js';
import { isNotFound } from './errors.js';

interface Mark {
  key: string;
  uploadId: string;
  host: string;
  pid: number;
  started: string;
}

export async function putMark(client: S3Client, bucket: string, keys: Keys, key: string, uploadId: string): Promise<void> {
  const mark: Mark = { key, uploadId, host: hostname(), pid: process.pid, started: new Date().toISOString() };
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: keys.uploadMark(uploadId), Body: JSON.stringify(mark), ContentType: 'application/json' }));
}

export async function deleteMark(client: S3Client, bucket: string, keys: Keys, uploadId: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys.uploadMark(uploadId) }));
}

function processGone(pid: number): boolean {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Aborts the multipart uploads this host began in processes that are gone; resolves to how many. */
export async function abortStaleUploads(client: S3Client, bucket: string, keys: Keys): Promise<number> {
  const host = hostname();
  let aborted = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${keys.marksPrefix}${UPLOADS_DIR}/`, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      let mark: Mark;
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
        mark = JSON.parse(await got.Body!.transformToString()) as Mark;
      } catch (err) {
        if (isNotFound(err)) continue;
        if (err instanceof SyntaxError) mark = { key: '', uploadId: '', host: '', pid: 0, started: '' };
        else throw err;
      }
      if (mark.host !== host || !processGone(mark.pid)) continue;
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: mark.key, UploadId: mark.uploadId }));
      } catch (err) {
        if (!isNotFound(err)) throw err; // NoSuchUpload: already gone
      }
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      aborted++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return aborted;
}
