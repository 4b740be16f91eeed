/**
 * Server-wide protocol settings, resolved from options with defaults: what the connection and the
 * command handlers read. Each field has one default, here.
 */
import type { PortRange } from './data/passive.js';

export type TlsRequired = 'off' | 'login' | 'all';
export type SessionReuse = 'require' | 'allow' | 'off';

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
  /** Delay before answering a failed login. */
  loginFailureDelayMs: number;
}

export interface ServerSettings {
  greeting: string;
  tlsRequired: TlsRequired;
  sessionReuse: SessionReuse;
  pasvPorts: PortRange | undefined;
  /** The address advertised in PASV replies (NAT); default: the control connection's local address. */
  pasvAddress: string | undefined;
  timeouts: Timeouts;
  limits: Limits;
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
};

export function resolveSettings(partial: Partial<Omit<ServerSettings, 'timeouts' | 'limits'>> & {
  timeouts?: Partial<Timeouts>;
  limits?: Partial<Limits>;
} = {}): ServerSettings {
  return {
    greeting: partial.greeting ?? 'ftpsd ready.',
    tlsRequired: partial.tlsRequired ?? 'login',
    sessionReuse: partial.sessionReuse ?? 'require',
    pasvPorts: partial.pasvPorts,
    pasvAddress: partial.pasvAddress,
    timeouts: { ...DEFAULT_TIMEOUTS, ...partial.timeouts },
    limits: { ...DEFAULT_LIMITS, ...partial.limits },
  };
}
