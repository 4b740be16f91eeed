/**
 * The authentication seam. A successful login *is* the capability to act: it returns the user's storage
 * (already confined to the user's root) and permissions, so nothing can touch storage before login.
 */
import type { Storage } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { Permissions } from './permissions.js';

/** What `Authenticator.login` gets: the credentials of a PASS and where they come from. */
export interface LoginRequest {
  readonly user: string;
  readonly password: string;
  /** The client's address (after PROXY protocol, when trusted). */
  readonly remoteAddress: string;
  /** True when the control connection is protected by TLS. */
  readonly secure: boolean;
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
  /** Resolves to null for a wrong user name or password; never says which. May be slow: it is async. */
  login(request: LoginRequest): Promise<LoginResult | null>;
}
