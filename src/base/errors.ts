/**
 * Errors and the one table that maps them to replies.
 *
 * Handlers throw `FtpError` for a deliberate reply, storage backends throw `StorageError` (or Node's
 * `ErrnoException` from fs, which is mapped by its `code`). Anything else becomes `451` with fixed text:
 * the cause goes to the log with the session id, never to the wire.
 */
import { reply, type Reply } from './reply.js';
import { Code } from './reply-codes.js';

/** Stable error codes, so callers test `err.code` rather than message text. */
export type FtpErrorCode =
  | 'FTP_ERR_NOT_FOUND'
  | 'FTP_ERR_NOT_A_DIRECTORY'
  | 'FTP_ERR_IS_A_DIRECTORY'
  | 'FTP_ERR_EXISTS'
  | 'FTP_ERR_PERMISSION'
  | 'FTP_ERR_NOT_EMPTY'
  | 'FTP_ERR_NO_SPACE'
  | 'FTP_ERR_QUOTA'
  | 'FTP_ERR_BAD_NAME'
  | 'FTP_ERR_UNSUPPORTED'
  | 'FTP_ERR_DATA_CONNECTION'
  /** A protected data connection that did not resume its control connection's TLS session (425). */
  | 'FTP_ERR_TLS_REUSE'
  /** A protected data connection whose client certificate is not its control connection's, or none where one is required (425). */
  | 'FTP_ERR_CLIENT_CERT'
  | 'FTP_ERR_TRANSFER_ABORTED'
  | 'FTP_ERR_INTERNAL'
  | 'FTP_ERR_REPLY';

/** An error with a deliberate reply: written to the client as is. */
export class FtpError extends Error {
  readonly reply: Reply;
  readonly code: FtpErrorCode;
  constructor(replyCode: number, text: string, options?: { code?: FtpErrorCode; cause?: unknown }) {
    super(text, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FtpError';
    this.reply = reply(replyCode, text);
    this.code = options?.code ?? 'FTP_ERR_REPLY';
  }
}

/** What a storage backend throws; `errno` is the POSIX name of the cause. */
export class StorageError extends Error {
  readonly errno: string;
  constructor(errno: string, message?: string, options?: { cause?: unknown }) {
    super(message ?? errno, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.errno = errno;
  }
}

interface Mapped {
  code: FtpErrorCode;
  reply: Reply;
}

const TABLE: Record<string, Mapped> = {
  ENOENT: { code: 'FTP_ERR_NOT_FOUND', reply: reply(Code.fileUnavailable, 'No such file or directory.') },
  ENOTDIR: { code: 'FTP_ERR_NOT_A_DIRECTORY', reply: reply(Code.fileUnavailable, 'Not a directory.') },
  EISDIR: { code: 'FTP_ERR_IS_A_DIRECTORY', reply: reply(Code.fileUnavailable, 'Is a directory.') },
  EEXIST: { code: 'FTP_ERR_EXISTS', reply: reply(Code.fileUnavailable, 'File exists.') },
  EACCES: { code: 'FTP_ERR_PERMISSION', reply: reply(Code.fileUnavailable, 'Permission denied.') },
  EPERM: { code: 'FTP_ERR_PERMISSION', reply: reply(Code.fileUnavailable, 'Permission denied.') },
  EROFS: { code: 'FTP_ERR_PERMISSION', reply: reply(Code.fileUnavailable, 'Permission denied.') },
  ENOTEMPTY: { code: 'FTP_ERR_NOT_EMPTY', reply: reply(Code.fileUnavailable, 'Directory not empty.') },
  ELOOP: { code: 'FTP_ERR_PERMISSION', reply: reply(Code.fileUnavailable, 'Permission denied.') },
  EXDEV: { code: 'FTP_ERR_UNSUPPORTED', reply: reply(Code.fileUnavailable, 'Cannot move across file systems.') },
  ENOSPC: { code: 'FTP_ERR_NO_SPACE', reply: reply(Code.insufficientStorage, 'Insufficient storage space.') },
  EDQUOT: { code: 'FTP_ERR_QUOTA', reply: reply(Code.quotaExceeded, 'Storage quota exceeded.') },
  EFBIG: { code: 'FTP_ERR_QUOTA', reply: reply(Code.quotaExceeded, 'File too large.') },
  ENAMETOOLONG: { code: 'FTP_ERR_BAD_NAME', reply: reply(Code.nameNotAllowed, 'File name not allowed.') },
  EINVAL: { code: 'FTP_ERR_BAD_NAME', reply: reply(Code.nameNotAllowed, 'File name not allowed.') },
  ENOTSUP: { code: 'FTP_ERR_UNSUPPORTED', reply: reply(Code.notImplemented, 'Not supported by this storage.') },
};

const INTERNAL: Mapped = { code: 'FTP_ERR_INTERNAL', reply: reply(Code.localError, 'Local error in processing.') };

/** The reply for any error thrown by a handler, and whether it was expected (else: log it). */
export function errorToReply(err: unknown): { reply: Reply; code: FtpErrorCode; expected: boolean } {
  if (err instanceof FtpError) return { reply: err.reply, code: err.code, expected: true };
  const errno =
    err instanceof StorageError
      ? err.errno
      : typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
        ? (err as { code: string }).code
        : undefined;
  const mapped = errno === undefined ? undefined : TABLE[errno];
  if (mapped) return { ...mapped, expected: true };
  return { ...INTERNAL, expected: false };
}
