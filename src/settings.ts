/**
 * Server-wide protocol settings, resolved from options with defaults: what the connection and the
 * command handlers read. Each field has one default, here.
 */
import type { UploadPolicy } from './auth/users.js';
import type { PortRange } from './data/passive.js';
import { checkAdvertisedPorts, PasvAddresses, type PasvAddressRule } from './data/pasv-address.js';

export type TlsRequired = 'off' | 'login' | 'all';
export type SessionReuse = 'require' | 'allow' | 'off';
/**
 * Data protection for sessions whose control connection used TLS (AUTH TLS or implicit FTPS; CCC does
 * not end it). `tls-sessions` (default): such a session must send PROT P before any transfer (PROT C is
 * refused with 534, a clear transfer with 521). `optional`: PROT C allowed, so anyone who reaches the
 * passive port first (same address: carrier-grade NAT, a shared host) can take the transfer: the
 * passive port is only checked against the client's address, and clear data carries no proof of who
 * opened it. `tlsRequired: all` requires PROT P whatever this says.
 */
export type DataProtection = 'tls-sessions' | 'optional';

export interface Timeouts {
  /** Idle control connection (never while a transfer runs). */
  idleMs: number;
  /** From connect to successful login. */
  loginMs: number;
  /** Waiting for a passive connection / connecting an active one. */
  dataConnectMs: number;
  /** TLS handshakes (control and data). */
  handshakeMs: number;
  /** The close_notify exchange of CCC. */
  cccMs: number;
  /** A transfer with no progress. */
  stalledTransferMs: number;
}

export interface Limits {
  maxLineBytes: number;
  /** Unread control bytes before the socket is paused. */
  maxBufferedBytes: number;
  /** Consecutive unknown or malformed commands before the connection is closed. */
  maxBadCommands: number;
  /** Failed logins on one connection before it is closed. */
  maxLoginFailures: number;
  /**
   * Every failed PASS is answered this long after it arrived (password checks run inside this budget), so
   * unknown users, wrong passwords and every kind of account take the same time. Successes are not delayed.
   */
  loginFailureDelayMs: number;
  /** Sessions on the whole server (all listeners). */
  maxSessions: number;
  /**
   * Connections not logged in (yet, or again after REIN), a part of `maxSessions`. When they are this
   * many, a new connection pushes out the oldest of them (421), so idle connections that never log in
   * cannot take the room of logged-in sessions and of new logins. Default: a quarter of maxSessions.
   */
  maxUnauthenticated: number;
  /** Sessions from one client address. */
  maxSessionsPerAddress: number;
  /** Logged-in sessions of one user (checked at PASS, after the password). */
  maxSessionsPerUser: number;
}

/** Per-network bans after repeated failed logins, counted across connections and listeners. */
export interface BanPolicy {
  /** Failed logins from one network (see the prefixes) within `windowMs` that start a ban. */
  failures: number;
  windowMs: number;
  /** How long a ban lasts; a successful login does not end it. */
  durationMs: number;
  /** Networks remembered (failure counters and bans, each); the oldest are forgotten first. */
  maxEntries: number;
  /** Leading bits of an IPv4 address that failures count and bans apply to (32: each address alone). */
  ipv4Prefix: number;
  /** Leading bits of an IPv6 address that failures count and bans apply to (64: the /64, one client's usual share). */
  ipv6Prefix: number;
}

export interface SecuritySettings {
  /** Undefined: no bans. */
  ban: BanPolicy | undefined;
  /** Networks (CIDR) that may connect; empty: everyone not denied. */
  allow: readonly string[];
  /** Networks (CIDR) refused at connect; deny wins over allow. */
  deny: readonly string[];
}

export interface SecurityOptions {
  /** `false` turns bans off. */
  ban?: Partial<BanPolicy> | false;
  allow?: readonly string[];
  deny?: readonly string[];
}

/** How the protocol side ends uploads (the storage side, `atomic` and `partial`, is the storage's). */
export interface UploadSettings {
  /**
   * A protected (PROT P) upload is complete only when the client ended TLS with close_notify before
   * closing; without it the upload gets 426 and is aborted. false: a TCP FIN ends it too, as in clear.
   * A reset never ends an upload cleanly. See docs/uploads.md.
   */
  requireCloseNotify: boolean;
}

export const DEFAULT_UPLOADS: UploadSettings = { requireCloseNotify: true };

/**
 * The `uploads` option of the config file and of `createServer`: how the storage writes uploads
 * (`atomic`, `partial`: the built-in authenticator's LocalStorage) and how the protocol ends them.
 */
export interface UploadOptions extends UploadPolicy, Partial<UploadSettings> {}

export interface ServerSettings {
  greeting: string;
  tlsRequired: TlsRequired;
  sessionReuse: SessionReuse;
  dataProtection: DataProtection;
  pasvPorts: PortRange | undefined;
  /**
   * The address advertised in PASV replies (NAT), per client network; default (and for clients no rule
   * matches): the control connection's local address.
   */
  pasvAddress: PasvAddresses | undefined;
  /** The passive ports advertised, when a port mapping differs from `pasvPorts` (same offset). */
  pasvAdvertisedPorts: PortRange | undefined;
  /** Trusted proxies (CIDR) whose connections start with a PROXY protocol header; empty: none. */
  proxyProtocol: readonly string[];
  timeouts: Timeouts;
  limits: Limits;
  security: SecuritySettings;
  uploads: UploadSettings;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  idleMs: 300_000,
  loginMs: 60_000,
  dataConnectMs: 30_000,
  handshakeMs: 15_000,
  cccMs: 10_000,
  stalledTransferMs: 300_000,
};

export const DEFAULT_LIMITS: Limits = {
  maxLineBytes: 8192,
  maxBufferedBytes: 64 * 1024,
  maxBadCommands: 20,
  maxLoginFailures: 5,
  loginFailureDelayMs: 1000,
  maxSessions: 1000,
  /** With the default maxSessions; otherwise a quarter of it (see unauthenticatedCap). */
  maxUnauthenticated: 250,
  maxSessionsPerAddress: 50,
  maxSessionsPerUser: 20,
};

export const DEFAULT_BAN: BanPolicy = {
  failures: 10,
  windowMs: 10 * 60_000,
  durationMs: 60 * 60_000,
  maxEntries: 10_000,
  ipv4Prefix: 32,
  ipv6Prefix: 64,
};

export function resolveSettings(partial: Partial<Omit<ServerSettings, 'timeouts' | 'limits' | 'security' | 'pasvAddress' | 'uploads'>> & {
  timeouts?: Partial<Timeouts>;
  uploads?: Partial<UploadSettings>;
  limits?: Partial<Limits>;
  security?: SecurityOptions;
  pasvAddress?: string | readonly PasvAddressRule[] | PasvAddresses | undefined;
} = {}): ServerSettings {
  const ban = partial.security?.ban;
  const pasvAddress = partial.pasvAddress;
  if (partial.pasvAdvertisedPorts) checkAdvertisedPorts(partial.pasvPorts, partial.pasvAdvertisedPorts);
  return {
    greeting: partial.greeting ?? 'ftpsd ready.',
    tlsRequired: partial.tlsRequired ?? 'login',
    sessionReuse: partial.sessionReuse ?? 'require',
    dataProtection: partial.dataProtection ?? 'tls-sessions',
    pasvPorts: partial.pasvPorts,
    pasvAddress: pasvAddress === undefined || pasvAddress instanceof PasvAddresses ? pasvAddress : new PasvAddresses(pasvAddress),
    pasvAdvertisedPorts: partial.pasvAdvertisedPorts,
    proxyProtocol: [...(partial.proxyProtocol ?? [])],
    timeouts: { ...DEFAULT_TIMEOUTS, ...partial.timeouts },
    limits: withUnauthenticatedCap({ ...DEFAULT_LIMITS, ...partial.limits }, partial.limits?.maxUnauthenticated),
    security: {
      ban: ban === false ? undefined : { ...DEFAULT_BAN, ...ban },
      allow: [...(partial.security?.allow ?? [])],
      deny: [...(partial.security?.deny ?? [])],
    },
    uploads: { ...DEFAULT_UPLOADS, ...partial.uploads },
  };
}

/** The default pre-login cap follows maxSessions (a quarter of it) unless it is set. */
function withUnauthenticatedCap(limits: Limits, given: number | undefined): Limits {
  return { ...limits, maxUnauthenticated: given ?? Math.max(1, Math.floor(limits.maxSessions / 4)) };
}
