/**
 * The authentication seam. A successful login *is* the capability to act: it returns the user's storage
 * (already confined to the user's root) and permissions, so nothing can touch storage before login.
 */
import type { Storage } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { Permissions } from './permissions.js';
import type { ClientCertificate } from '../tls/client-certs.js';

/**
 * How an account logs in: `password` (default); `certificate`: a verified client certificate that names
 * the account, no password (USER is answered 232); `certificate+password`: both.
 */
export type LoginMethod = 'password' | 'certificate' | 'certificate+password';
export const LOGIN_METHODS = ['password', 'certificate', 'certificate+password'] as const;

export type { ClientCertificate } from '../tls/client-certs.js';

/** What `Authenticator.login` gets: the credentials of a PASS and where they come from. */
export interface LoginRequest {
  readonly user: string;
  readonly password: string;
  /** The client's address (after PROXY protocol, when trusted). */
  readonly remoteAddress: string;
  /** True when the control connection is protected by TLS. */
  readonly secure: boolean;
  /**
   * The client certificate of the control connection's TLS handshake, when client certificates are
   * asked for (`clientCerts.ca`) and the client presented one: verified against the configured CAs or
   * not (`verified`, `error`), its subject (RFC 4514), common name, email, SHA-256 fingerprint. Only a
   * `verified` certificate may ever vouch for anyone.
   */
  readonly certificate?: ClientCertificate;
  /**
   * Asked at USER, before any password (`password` is then ''): resolve to a result only if the
   * certificate alone logs this user in (RFC 4217 section 12.2: the server answers 232 and wants no
   * PASS); to null otherwise, which costs nothing (the client is asked for its password as usual).
   * Only asked when the connection presented a verified certificate. An authenticator that knows
   * nothing of certificates sees a login with an empty password, which it refuses as it would at PASS.
   */
  readonly certificateOnly?: boolean;
}

/**
 * A refused login with the reason, for the log only (the client sees the usual 530): "client
 * certificate names bob", "no client certificate", "not signed by a trusted CA". Counts as a failed login.
 */
export interface LoginRefusal {
  readonly refused: string;
}

/** A successful login: the user's storage and permissions (the capability to act). */
export interface LoginResult {
  /** The user's storage, rooted at the user's home. */
  readonly storage: Storage;
  readonly permissions: Permissions;
  /** Initial working directory inside the storage (default: its root). */
  readonly cwd?: VirtualPath;
  /** The name to show in logs and listings (default: the login name). */
  readonly name?: string;
  /** An anonymous login (shown as such in the transfer log). Default: false. */
  readonly anonymous?: boolean;
  /**
   * The user's bandwidth, shared by all their sessions: sessions whose logins return the same object
   * share its limits (keep one object per user). Default: no per-user limit.
   */
  readonly bandwidth?: UserBandwidth;
}

/** Bytes per second for all of a user's sessions together, by direction; 0 or unset: no limit. */
export interface UserBandwidth {
  readonly downloadBytesPerSecond?: number | undefined;
  readonly uploadBytesPerSecond?: number | undefined;
}

/** Decides who may log in, and with which storage and permissions. */
export interface Authenticator {
  /**
   * Resolves to null (or a `LoginRefusal`, whose reason goes to the log) for a wrong user name,
   * password or certificate; the client is never told which. May be slow: it is async.
   * Rejects with an `AuthUnavailableError` when it cannot decide (its directory or service is down):
   * the client gets 421, and the attempt does not count as a failed login.
   */
  login(request: LoginRequest): Promise<LoginResult | LoginRefusal | null>;
}

/**
 * An authenticator could not decide: the service behind it is unreachable, slow or answered nonsense.
 * Its message goes to the log (never to the client, which gets a fixed 421); it must hold no secret.
 */
export class AuthUnavailableError extends Error {
  override readonly name = 'AuthUnavailableError';
}

/** True for an `AuthUnavailableError`, also one from another copy of this module. */
export function isAuthUnavailable(err: unknown): err is AuthUnavailableError {
  return err instanceof AuthUnavailableError || (err instanceof Error && err.name === 'AuthUnavailableError');
}
