/**
 * An `s3://BUCKET[/PREFIX]` root: the S3Storage of the root from the config's `s3:` block (and the SDK's
 * defaults: AWS_* variables, profiles, roles), its users' homes as key prefixes below it, and the start-up
 * check: HeadBucket, then the clean-up of this host's stale multipart uploads. A failed check is one line,
 * `s3://BUCKET: Reason: text`, naming the endpoint when one is set, never a stack or a secret.
 */
import { HeadBucketCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from '../logger.js';
import { sharedS3Client } from '../storage/s3/shared-client.js';
import { abortStaleUploads } from '../storage/s3/marks.js';
import { parseS3Root } from '../storage/s3/options.js';
import { S3Storage } from '../storage/s3/s3-storage.js';
import { ConfigError } from './errors.js';
import type { S3Config } from './s3-schema.js';

/** The root's S3Storage (no request made yet). */
export function openS3Root(root: string, config: S3Config = {}): S3Storage {
  const where = parseS3Root(root);
  if (!where) throw ConfigError.of('root', 'must be s3://BUCKET[/PREFIX]');
  let secretAccessKey: string | undefined;
  if (config.secretAccessKeyFile !== undefined) {
    if (config.accessKeyId === undefined) throw ConfigError.of('s3.accessKeyId', 'is required with s3.secretAccessKeyFile');
    try {
      secretAccessKey = readFileSync(resolve(config.secretAccessKeyFile), 'utf8').trim();
    } catch (err) {
      throw ConfigError.of('s3.secretAccessKeyFile', `cannot read ${config.secretAccessKeyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (config.accessKeyId !== undefined) {
    throw ConfigError.of('s3.secretAccessKeyFile', 'is required with s3.accessKeyId');
  }
  // The same settings give the same client back (a reload adds no sockets); changed ones retire the old.
  const client = sharedS3Client(root, {
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.region !== undefined ? { region: config.region } : {}),
    ...(config.forcePathStyle !== undefined ? { forcePathStyle: config.forcePathStyle } : {}),
    ...(config.accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId: config.accessKeyId, secretAccessKey } : {}),
  });
  return new S3Storage({
    client,
    bucket: where.bucket,
    prefix: where.prefix,
    ...(config.partSizeMiB !== undefined ? { partSizeMiB: config.partSizeMiB } : {}),
    ...(config.queueSize !== undefined ? { queueSize: config.queueSize } : {}),
    ...(config.storageClass !== undefined ? { storageClass: config.storageClass } : {}),
    ...(config.serverSideEncryption !== undefined ? { serverSideEncryption: config.serverSideEncryption } : {}),
    ...(config.maxRenameObjects !== undefined ? { maxRenameObjects: config.maxRenameObjects } : {}),
  });
}

/** The storage of a home below an s3:// root (`home` is an s3:// URL inside `root`). */
export function homeStorage(rootStorage: S3Storage, root: string, home: string): S3Storage {
  const base = root.replace(/\/+$/, '');
  return home === root || home === base ? rootStorage : rootStorage.below(home.slice(base.length));
}

const REASONS: Record<string, string> = {
  SignatureDoesNotMatch: 'the secret key is wrong',
  InvalidAccessKeyId: 'the access key id is unknown',
  AccessDenied: 'access denied',
  Forbidden: 'access denied (wrong credentials or no permission on the bucket)',
  NoSuchBucket: 'the bucket does not exist',
  NotFound: 'the bucket does not exist',
  CredentialsProviderError: 'no credentials found (s3.accessKeyId, AWS_ACCESS_KEY_ID, a profile or a role)',
  TimeoutError: 'the endpoint did not answer in time',
};

/** HeadBucket and the stale-upload clean-up; throws one line on failure. */
export async function checkS3Root(storage: S3Storage, logger?: Logger): Promise<void> {
  const endpoint = await storage.client.config.endpoint?.().then((e) => `${e.protocol}//${e.hostname}${e.port ? `:${e.port}` : ''}`).catch(() => undefined);
  const name = `s3://${storage.bucket}`;
  const at = endpoint ? ` (endpoint ${endpoint})` : '';
  try {
    await storage.client.send(new HeadBucketCommand({ Bucket: storage.bucket }));
  } catch (headErr) {
    // A HEAD error has no body, so no error code: a listing names it (SignatureDoesNotMatch, NoSuchBucket...).
    const err = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.bucket, MaxKeys: 1 })).then(
      () => headErr,
      (listErr: unknown) => listErr,
    );
    const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; message?: string };
    const status = e.$metadata?.httpStatusCode;
    const code = e.name === 'Unknown' || e.name === undefined ? (status === 403 ? 'Forbidden' : status === 404 ? 'NotFound' : (e.code ?? 'Error')) : e.name;
    const reason = REASONS[code] ?? (e.code === 'ECONNREFUSED' ? 'connection refused' : (e.message ?? 'failed').split('\n')[0]);
    throw new Error(`${name}: ${code}: ${reason}${at}`);
  }
  try {
    const aborted = await abortStaleUploads(storage.client, storage.bucket, storage.keys);
    if (aborted > 0) logger?.info({ bucket: storage.bucket, aborted }, 'aborted stale multipart uploads');
  } catch (err) {
    logger?.warn({ bucket: storage.bucket, err: (err as Error).message }, 'could not clean up stale multipart uploads');
  }
}
