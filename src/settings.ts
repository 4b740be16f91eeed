/**
 * Server-wide protocol settings, resolved from options with defaults: what the connection and the
 * command handlers read. Each field has one default, here.
 */
import type { UploadPolicy } from './auth/users.js';
import type { PortRange } from './base/address.js';
import { checkAdvertisedPorts, PasvAddresses, type PasvAddressRule } from './security/pasv-address.js';
import { pickPolicy, POLICY_DEFAULTS, POLICY_NAMES, type PolicySettings } from './policy-values.js';

export type { TlsRequired, SessionReuse, DataProtection } from './policy-values.js';

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
  /** Bandwidth of one session's downloads, bytes per second; 0: no limit (data/bandwidth.ts). */
  sessionDownloadBytesPerSecond: number;
  /** Bandwidth of one session's uploads, bytes per second; 0: no limit. */
  sessionUploadBytesPerSecond: number;
  /** Bandwidth of all downloads of the process, bytes per second; 0: no limit. */
  serverDownloadBytesPerSecond: number;
  /** Bandwidth of all uploads of the process, bytes per second; 0: no limit. */
  serverUploadBytesPerSecond: number;
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
  /** Under sessionReuse `require`: `allow` for these users or client networks (CIDR). */
  sessionReuseAllow: { users: readonly string[]; networks: readonly string[] };
}

export interface SecurityOptions {
  /** `false` turns bans off. */
  ban?: Partial<BanPolicy> | false;
  allow?: readonly string[];
  deny?: readonly string[];
  /** Under sessionReuse `require`: `allow` for these users or client networks (CIDR). Default: none. */
  sessionReuseAllow?: { users?: readonly string[] | undefined; networks?: readonly string[] | undefined };
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

/** The policy options (TLS policy, session reuse, data protection) come from policy-options.ts. */
export interface ServerSettings extends PolicySettings {
  greeting: string;
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
  /**
   * rclone with `--transfers 8 --checkers 8` holds 17 sessions; 50 serves it from three devices sharing
   * one account while still capping one leaked password's sessions (and maxSessionsPerAddress, 50, caps
   * one host).
   */
  maxSessionsPerUser: 50,
  sessionDownloadBytesPerSecond: 0,
  sessionUploadBytesPerSecond: 0,
  serverDownloadBytesPerSecond: 0,
  serverUploadBytesPerSecond: 0,
};

export const DEFAULT_BAN: BanPolicy = {
  failures: 10,
  windowMs: 10 * 60_000,
  durationMs: 60 * 60_000,
  maxEntries: 10_000,
  ipv4Prefix: 32,
  ipv6Prefix: 64,
};

/**
 * The options that resolve into ServerSettings (FtpServer's options, reconfigure()'s): each undefined
 * one takes its default.
 */
export interface SettingsOptions extends Partial<PolicySettings> {
  /** The first line a client sees (`220 <greeting>`). Default: `ftpsd ready.` */
  greeting?: string;
  pasvPorts?: PortRange | undefined;
  /**
   * The IPv4 address PASV advertises (NAT): one address or host name, or rules by client network
   * (first match wins; a rule without `network` matches everyone). Default: the address the client
   * connected to.
   */
  pasvAddress?: string | readonly PasvAddressRule[] | PasvAddresses | undefined;
  /** Passive ports as the client must see them when a port mapping differs from `pasvPorts`. */
  pasvAdvertisedPorts?: PortRange | undefined;
  /**
   * Trusted proxies (CIDR): connections from them must start with a PROXY protocol header (v1 or v2),
   * whose client address then counts for everything; anyone else must not send one.
   */
  proxyProtocol?: readonly string[];
  timeouts?: Partial<Timeouts>;
  limits?: Partial<Limits>;
  /** Login bans and access lists (see the defaults below). */
  security?: SecurityOptions;
  /** How uploads end: `requireCloseNotify` (default true; see docs/uploads.md). */
  uploads?: Partial<UploadSettings>;
}

/** The names of SettingsOptions, for code that copies them all (a config reload). */
export const SETTINGS_OPTIONS = [
  'greeting',
  ...POLICY_NAMES,
  'pasvPorts',
  'pasvAddress',
  'pasvAdvertisedPorts',
  'proxyProtocol',
  'timeouts',
  'limits',
  'security',
  'uploads',
] as const satisfies readonly (keyof SettingsOptions)[];
// Every option of SettingsOptions is in the list (a compile error names the one missing).
const settingsListed: Record<Exclude<keyof SettingsOptions, (typeof SETTINGS_OPTIONS)[number]>, never> = {};
void settingsListed;

export function resolveSettings(partial: SettingsOptions = {}): ServerSettings {
  const ban = partial.security?.ban;
  const pasvAddress = partial.pasvAddress;
  if (partial.pasvAdvertisedPorts) checkAdvertisedPorts(partial.pasvPorts, partial.pasvAdvertisedPorts);
  return {
    greeting: partial.greeting ?? 'ftpsd ready.',
    ...POLICY_DEFAULTS,
    ...pickPolicy(partial),
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
      sessionReuseAllow: { users: [...(partial.security?.sessionReuseAllow?.users ?? [])], networks: [...(partial.security?.sessionReuseAllow?.networks ?? [])] },
    },
    uploads: { ...DEFAULT_UPLOADS, ...partial.uploads },
  };
}

/** The default pre-login cap follows maxSessions (a quarter of it) unless it is set. */
function withUnauthenticatedCap(limits: Limits, given: number | undefined): Limits {
  return { ...limits, maxUnauthenticated: given ?? Math.max(1, Math.floor(limits.maxSessions / 4)) };
}
