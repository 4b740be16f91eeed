/**
 * What an S3Storage is built from: the bucket, the key prefix it serves, and how uploads are cut into
 * parts. The client (endpoint, region, credentials, timeouts) is made by `client.ts`.
 */
import type { S3Client } from '@aws-sdk/client-s3';

export interface S3StorageOptions {
  client: S3Client;
  bucket: string;
  /** The key prefix served as the root ('' for the whole bucket); with or without slashes. */
  prefix?: string;
  /** Where the marks of uploads go (normalised, '' or ending in '/'): the root's prefix; `below()` keeps it. */
  marksPrefix?: string;
  /** Size of an upload's parts, in MiB (at least 5, S3's minimum); default 8. */
  partSizeMiB?: number;
  /** Parts of one upload held at once (the one being filled and those in flight); default 4. An upload holds at most partSizeMiB x queueSize. */
  queueSize?: number;
  storageClass?: string;
  serverSideEncryption?: string;
  /** A directory rename copies at most this many objects, else it is refused; default 1000. */
  maxRenameObjects?: number;
}

export const S3_DEFAULTS = { partSizeMiB: 8, queueSize: 4, maxRenameObjects: 1000 } as const;

/** `s3://BUCKET[/PREFIX]` split; undefined when `root` is not an s3 URL. */
export function parseS3Root(root: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(root);
  if (!m) return undefined;
  return { bucket: m[1]!, prefix: normalisePrefix(m[2] ?? '') };
}

/** '' or 'a/b/': no leading slash, one trailing slash, no empty segments. */
export function normalisePrefix(prefix: string): string {
  const segments = prefix.split('/').filter((s) => s !== '');
  return segments.length === 0 ? '' : `${segments.join('/')}/`;
}
