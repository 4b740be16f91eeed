/**
 * Per-connection protocol state. No I/O here: the connection (connection.ts) owns the sockets, and
 * REIN / a new USER reset the parts that belong to a login.
 */
import type { UserBandwidth } from './auth/authenticator.js';
import type { Permissions } from './auth/permissions.js';
import type { HashAlgorithm, Storage } from './storage/storage.js';
import type { VirtualPath } from './base/virtual-path.js';
import type { ClientCertificate } from './tls/client-certs.js';

export interface LoggedInUser {
  readonly name: string;
  readonly storage: Storage;
  readonly permissions: Permissions;
  /** Logged in anonymously (xferlog access mode `a`). */
  readonly anonymous?: boolean;
  /** The user's bandwidth, shared by their sessions (the login's object). */
  readonly bandwidth?: UserBandwidth | undefined;
}

export type TransferType = 'A' | 'I';

export const DEFAULT_MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
/** Shared by every session until OPTS MLST gives it a set of its own (never changed in place). */
const DEFAULT_FACT_SET: ReadonlySet<string> = new Set(DEFAULT_MLST_FACTS);

export class SessionState {
  private loggedIn: LoggedInUser | undefined;
  /** Called when `user` changes (the connection tells its server: admission and per-user counts). */
  onUserChange: (() => void) | undefined;

  get user(): LoggedInUser | undefined {
    return this.loggedIn;
  }

  set user(user: LoggedInUser | undefined) {
    if (user === this.loggedIn) return;
    this.loggedIn = user;
    this.onUserChange?.();
  }

  /** The name given by USER, waiting for PASS. */
  pendingUser: string | undefined;
  cwd: VirtualPath = [];
  type: TransferType = 'A';
  /** REST offset for the next transfer; consumed by it. */
  restOffset = 0;
  /** RANG byte range (inclusive end) for the next RETR or HASH; consumed by it. */
  range: { start: number; end: number } | undefined;
  /** RNFR source; cleared unless RNTO follows at once. */
  renameFrom: VirtualPath | undefined;
  /** PBSZ seen (after TLS). */
  pbsz = false;
  /** The control connection used TLS (AUTH or implicit FTPS); stays true after CCC and REIN. */
  usedTls = false;
  /**
   * The client certificate presented on the control connection's latest TLS handshake (verified or not;
   * see `verified`), when client certificates are asked for. Kept after CCC and REIN: it is the TLS
   * identity the session's data connections are bound to.
   */
  clientCert: ClientCertificate | undefined;
  /** CCC cleared the control channel (its TLS session is still known to the server: the data side's binder). */
  cleared = false;
  /** Data channel protection: C (clear) or P (private). */
  prot: 'C' | 'P' = 'C';
  /** EPSV ALL: only EPSV may set up data connections from now on. */
  epsvAll = false;
  /** HOST given (RFC 7151). */
  host: string | undefined;
  mlstFacts: ReadonlySet<string> = DEFAULT_FACT_SET;
  hashAlgorithm: HashAlgorithm = 'SHA-256';
  /** Failed logins on this connection. */
  failedLogins = 0;
  /** A command was refused for want of TLS and that was logged (once per connection). */
  tlsRefusalLogged = false;

  /** Forget the login and everything tied to it (REIN, or USER again). */
  resetLogin(): void {
    this.user = undefined;
    this.pendingUser = undefined;
    this.cwd = [];
    this.restOffset = 0;
    this.range = undefined;
    this.renameFrom = undefined;
  }

  /** REIN: back to the state right after the greeting, TLS on the control connection aside. */
  reinitialize(): void {
    this.resetLogin();
    this.type = 'A';
    this.pbsz = false;
    this.prot = 'C';
    this.epsvAll = false;
    this.host = undefined;
    this.mlstFacts = DEFAULT_FACT_SET;
    this.hashAlgorithm = 'SHA-256';
  }
}
