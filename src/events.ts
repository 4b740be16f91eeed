/**
 * Typed events for embedders and for the operations layer (logs, metrics, hooks).
 */
import { EventEmitter } from 'node:events';

/** What every event says about its session. */
export interface SessionInfo {
  /** Session id, also in every log line of the session. */
  id: string;
  remoteAddress: string;
  user?: string;
}

/** The payload of `upload` and `download`. */
export interface TransferInfo extends SessionInfo {
  /** The virtual path, `/a/b.txt`. */
  path: string;
  bytes: number;
  durationMs: number;
  secure: boolean;
}

/** The server's events and their arguments: `server.on(name, (...args) => ...)`. Merged with the operations events below. */
export interface ServerEventMap {
  connect: [SessionInfo];
  login: [SessionInfo & { user: string }];
  'login-failed': [SessionInfo & { user: string }];
  upload: [TransferInfo];
  download: [TransferInfo];
  delete: [SessionInfo & { path: string; directory: boolean }];
  rename: [SessionInfo & { from: string; to: string }];
  mkdir: [SessionInfo & { path: string }];
  disconnect: [SessionInfo];
  error: [Error & { sessionId?: string }];
}

/** The server's typed event emitter (`createServer`'s server is one). */
export class ServerEvents extends EventEmitter<ServerEventMap> {}

/** A listener for each of some events. */
export type ServerListeners = { [K in keyof ServerEventMap]?: (...args: ServerEventMap[K]) => void };

/** Adds each of `listeners` to `events`; returns a function that removes them all again. */
export function listenTo(events: ServerEvents, listeners: ServerListeners): () => void {
  const pairs = Object.entries(listeners) as [keyof ServerEventMap, (...args: unknown[]) => void][];
  for (const [event, listener] of pairs) events.on(event, listener as never);
  return () => {
    for (const [event, listener] of pairs) events.off(event, listener as never);
  };
}

// ---------------------------------------------------------------------------------------------------
// Operations events (logs, metrics, xferlog, hooks: src/ops/). They merge into ServerEventMap above
// (interface declaration merging), so `server.events.on('command', ...)` is typed like the others.

/** One command line and its final reply (after the transfer, for transfer commands). */
export interface CommandEvent extends SessionInfo {
  /** The registry name (aliases resolved: XMKD -> MKD); undefined for unknown or unparsable lines. */
  command: string | undefined;
  /** The verb as sent, upper-cased (undefined when the line had none). */
  verb: string | undefined;
  /** The final reply code, when one was written. */
  code: number | undefined;
  durationMs: number;
}

/** Every file transfer (RETR, STOR, APPE, STOU) whose file was opened, completed or not. */
export interface TransferEndEvent extends SessionInfo {
  direction: 'upload' | 'download';
  /** The virtual path, `/a/b.txt`. */
  path: string;
  /** Bytes moved (read from the file for downloads, received for uploads), also when it failed. */
  bytes: number;
  durationMs: number;
  /** TYPE A or TYPE I. */
  mode: 'ascii' | 'binary';
  /** PROT C or PROT P. */
  protection: 'clear' | 'private';
  /** True when the transfer completed (226). */
  ok: boolean;
  /** The transfer's final reply code (226, 426, 425, 452, ...). */
  code: number;
  /** The user logged in anonymously. */
  anonymous: boolean;
}

/** A TLS handshake on a control connection (AUTH, implicit FTPS) or a protected data connection. */
export interface TlsHandshakeEvent extends SessionInfo {
  channel: 'control' | 'data';
  ok: boolean;
  /** The data connection resumed a TLS session (data channel, ok only). */
  resumed?: boolean;
}

/** The outcome of every password check (PASS). */
export interface LoginAttemptEvent extends SessionInfo {
  user: string;
  /**
   * `banned`: refused because the address is banned (the password is not checked); `failed`: a wrong
   * user name or password; `too-many-sessions`: right password, but the user is at its session cap;
   * `unavailable`: the authenticator could not decide (LDAP or the auth hook down), the client got 421.
   */
  result: 'ok' | 'failed' | 'banned' | 'too-many-sessions' | 'unavailable';
  /** This failure banned the address. */
  banStarted?: boolean;
}

// The server's operations events (logs, metrics, xferlog, hooks), merged into the events above.
export interface ServerEventMap {
  command: [CommandEvent];
  'transfer-end': [TransferEndEvent];
  'tls-handshake': [TlsHandshakeEvent];
  /** A protected data connection refused because it did not resume its control connection's session. */
  'reuse-refused': [SessionInfo];
  'login-attempt': [LoginAttemptEvent];
  /** close() was called: the server stops accepting and winds down. */
  shutdown: [];
}
