/**
 * The defaults of the command line and the config file, stated once. Protocol defaults (TLS policy,
 * session reuse, timeouts, limits) come from src/settings.ts, which stays their single source.
 */
import { resolveSettings, type DataProtection, type SessionReuse, type TlsRequired } from '../settings.js';
import type { LogLevel } from '../logger.js';

const protocol = resolveSettings();

export const DEFAULTS = {
  /** Explicit FTP(S) listeners: all interfaces, IPv6 dual-stack (IPv4 only where IPv6 is unavailable). */
  listen: '[::]:2121',
  /** Implicit FTPS listeners. */
  implicitListen: '[::]:2990',
  /** Served directory (created if missing). */
  root: './ftp-root',
  /** Generated certificate and key live here. */
  stateDir: './.ftpsd',
  /** The account created when no user is configured. */
  userName: 'ftpsd',
  logLevel: 'info' as LogLevel,
  /** The process's file mode creation mask (whatever it inherited): new directories 0755, files 0644. */
  umask: 0o022,
  tlsRequired: protocol.tlsRequired,
  sessionReuse: protocol.sessionReuse,
  dataProtection: protocol.dataProtection,
  /** How long running transfers may finish after SIGINT/SIGTERM. */
  shutdownGraceMs: 10_000,
} as const;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly LogLevel[];
export const TLS_REQUIRED = ['off', 'login', 'all'] as const satisfies readonly TlsRequired[];
export const SESSION_REUSE = ['require', 'allow', 'off'] as const satisfies readonly SessionReuse[];
export const DATA_PROTECTION = ['tls-sessions', 'optional'] as const satisfies readonly DataProtection[];
