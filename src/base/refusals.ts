/**
 * The refusals a user could ask an admin about, each logged once at `info` (or `warn`) with a stable
 * `reason` key: the log message and its reason keys, in one table that docs/operations.md's log table
 * must list (test/ops/refusal-table.test.ts checks it both ways, and that the code logs no other key).
 */
export const REFUSAL_LOG = {
  'command refused: TLS required': ['tls-required'],
  'command refused: permission': ['permission-denied'],
  'command refused: storage': ['quota-exceeded', 'file-too-large', 'disk-full'],
  'transfer failed': ['quota-exceeded', 'file-too-large', 'disk-full'],
  'data connection refused: TLS session reuse': ['tls-session-not-resumed', 'tls-session-of-another-connection'],
  'connection refused': ['denied', 'banned', 'server-full', 'address-full', 'prelogin-full'],
  'login refused: too many sessions for this user': ['user-sessions'],
  'login failed': ['banned'],
  'TLS handshake failed': ['unknown-ca', 'bad-certificate', 'no-shared-cipher', 'protocol-version', 'not-tls', 'http-request', 'closed', 'timeout', 'other'],
} as const;

export type RefusalMessage = keyof typeof REFUSAL_LOG;

/** Why a storage error refused a command or ended a transfer, by its errno-like code; undefined: not a refusal of this kind. */
export function storageRefusal(code: string | undefined): 'quota-exceeded' | 'file-too-large' | 'disk-full' | undefined {
  if (code === 'EDQUOT') return 'quota-exceeded';
  if (code === 'EFBIG') return 'file-too-large';
  if (code === 'ENOSPC') return 'disk-full';
  return undefined;
}

/** A transfer's final reply as a refusal reason (552 quota / file too large, 452 disk full). */
export function transferRefusal(reply: { code: number; lines: readonly string[] }): 'quota-exceeded' | 'file-too-large' | 'disk-full' | undefined {
  if (reply.code === 452) return 'disk-full';
  if (reply.code !== 552) return undefined;
  return /too large/i.test(reply.lines.join(' ')) ? 'file-too-large' : 'quota-exceeded';
}

/**
 * A TLS handshake failure as a short stable key, from OpenSSL's and Node's texts (which change between
 * versions, and are not for operators to grep).
 */
export function handshakeFailure(err: { message?: string; code?: string }): (typeof REFUSAL_LOG)['TLS handshake failed'][number] {
  const text = `${err.code ?? ''} ${err.message ?? ''}`.toLowerCase();
  if (/unknown ca|unknown_ca/.test(text)) return 'unknown-ca';
  if (/bad certificate|bad_certificate|certificate unknown|certificate_unknown|certificate expired|decrypt error/.test(text)) return 'bad-certificate';
  if (/no shared cipher|no_shared_cipher|handshake failure|no suitable signature|no_cipher/.test(text)) return 'no-shared-cipher';
  if (/http request/.test(text)) return 'http-request';
  if (/unsupported protocol|protocol version|version too low|version too high|tlsv1 alert protocol version|inappropriate fallback/.test(text)) return 'protocol-version';
  if (/wrong version number|packet length too long|record layer failure|unknown protocol|not a tls|record_layer/.test(text)) return 'not-tls';
  if (/timeout|timed out|etimedout/.test(text)) return 'timeout';
  if (/econnreset|socket hang up|epipe|closed|disconnect|unexpected eof|premature close/.test(text)) return 'closed';
  return 'other';
}
