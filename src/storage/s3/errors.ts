/**
 * SDK errors as StorageErrors: not found -> ENOENT, access denied -> EACCES; throttling, 5xx, timeouts and
 * network failures (after the SDK's retries) -> EIO, which replies 451 for that command only. The SDK's
 * message goes into the error (for the log), never a credential: the SDK does not put them there.
 */
import { StorageError } from '../../base/errors.js';

interface SdkError {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  message?: string;
}

export function statusOf(err: unknown): number | undefined {
  return (err as SdkError | undefined)?.$metadata?.httpStatusCode;
}

export function isNotFound(err: unknown): boolean {
  const e = err as SdkError;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || (statusOf(err) === 404 && e?.name !== 'NoSuchBucket');
}

/** The POSIX name for an SDK error, as a StorageError (what the protocol layer maps to a reply). */
export function toStorageError(err: unknown, what: string): Error {
  if (err instanceof StorageError) return err;
  const e = err as SdkError;
  const name = e?.name ?? 'Error';
  if (isNotFound(err)) return new StorageError('ENOENT', `${what}: ${name}`, { cause: err });
  if (name === 'AccessDenied' || statusOf(err) === 403) return new StorageError('EACCES', `${what}: ${name}`, { cause: err });
  if (name === 'EntityTooLarge') return new StorageError('EFBIG', `${what}: ${name}`, { cause: err });
  return new StorageError('EIO', `${what}: ${name}: ${e?.message ?? ''}`.trim(), { cause: err });
}

/** Runs an SDK call, turning its error into a StorageError. */
export async function s3Call<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toStorageError(err, what);
  }
}
