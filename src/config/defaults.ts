/**
 * The defaults of the command line and the config file, stated once. Protocol defaults (TLS policy,
 * session reuse, timeouts, limits) come from src/settings.ts and src/policy-options.ts, their single source.
 */
import { POLICY_DEFAULTS } from '../policy-values.js';
import type { LogLevel } from '../logger.js';

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
  ...POLICY_DEFAULTS,
  /** How long running transfers may finish after SIGINT/SIGTERM. */
  shutdownGraceMs: 10_000,
} as const;

/** How long hooks and webhooks may still run at shutdown, after the FTP server stopped (`hookDelivery.drainMs`). */
export const DEFAULT_DRAIN_MS = 10_000;

/** The variable that sets the default account's password. */
export const PASSWORD_ENV = 'FTPSD_PASSWORD';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const satisfies readonly LogLevel[];
