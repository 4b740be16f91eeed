/**
 * What a command handler can see and do. The connection implements it; handlers never touch sockets.
 */
import type { Logger } from '../logger.js';
import type { Reply, Sent } from '../base/reply.js';
import type { SessionState, LoggedInUser } from '../session.js';
import type { Storage, Upload } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { ServerSettings } from '../settings.js';
import type { CommandRegistry } from './define.js';
import type { ServerEvents } from '../events.js';
import type { DataSetup, TransferSource } from '../data/data-setup.js';

export type LoginOutcome = 'ok' | 'failed' | 'banned' | 'too-many-sessions';

export type { DataSetup, TransferSource };

/**
 * What every command handler gets: the session's state and the ways to reply and to move data. A
 * command that needs no login (`access: 'public'`) gets this; the logged-in user, if any, is
 * `session.user`. Custom commands (`defineCommand`) get the same contexts as built-ins.
 */
export interface SessionContext {
  /** The session id (in the session's log lines and events). */
  readonly id: string;
  /** The protocol state: current directory, TYPE, PROT, REST offset, ... */
  readonly session: SessionState;
  /** The server's settings (timeouts, limits, TLS policy). */
  readonly settings: ServerSettings;
  /** Every command of the server (FEAT and HELP read it). */
  readonly registry: CommandRegistry;
  /** The session's logger (its lines carry the session id). */
  readonly log: Logger;
  /** The server's events, to emit the built-in events from a custom command. */
  readonly events: ServerEvents;
  /** TLS is on for the control connection. */
  readonly secure: boolean;
  /** The session arrived on the implicit-FTPS listener. */
  readonly implicit: boolean;
  /** A certificate is configured, so AUTH can succeed. */
  readonly tlsAvailable: boolean;
  readonly remoteAddress: string;
  readonly localAddress: string;
  /** 4 or 6: the address family of the control connection (IPv4-mapped counts as 4). */
  readonly family: 4 | 6;
  /** A transfer is running. */
  readonly transferring: boolean;
  /** Bytes moved by the running transfer. */
  readonly transferredBytes: number;

  /** Resolves a client path against the current directory (553 on a bad name). */
  resolve(arg: string): VirtualPath;
  /** Writes a reply now (for intermediate replies such as 150, or 234 before a TLS upgrade). */
  send(reply: Reply): Promise<void>;
  /** AUTH: after the 234 reply, starts TLS on the control connection. */
  startTls(): Promise<void>;
  /** CCC: writes the 200 reply and ends TLS on the control connection (armed before the reply goes out). */
  clearTls(reply: Reply): Promise<void>;
  /**
   * PASS: asks the authenticator; applies the login on success. `banned`: the address is banned (before
   * or because of this failure; the password was not accepted); `too-many-sessions`: the password was
   * right but the user has `maxSessionsPerUser` sessions already.
   */
  login(user: string, password: string): Promise<LoginOutcome>;
  /** Prepares the next data connection (PASV/EPSV/PORT/EPRT); returns the port listened on for passive. */
  prepareData(setup: DataSetup): Promise<{ host: string; port: number } | void>;
  /**
   * Runs a download (RETR, LIST, ...) over the prepared data connection and writes its final reply;
   * resolves to that reply's code, for the handler to return (`return ctx.sendData(...)`).
   */
  sendData(source: () => Promise<TransferSource>, opening: string): Promise<Sent>;
  /** Runs an upload (STOR, APPE, STOU) into `upload` and writes its final reply; resolves to its code, as `sendData`. */
  receiveData(upload: () => Promise<Upload>, opening: string, path: VirtualPath): Promise<Sent>;
  /** ABOR: stops the running transfer (its reply is written first); false if none ran. */
  abortTransfer(): Promise<boolean>;
  /** Closes the connection after the pending replies. */
  close(): void;
}

/**
 * What a command that needs a login (`access: 'user'`) gets: the session's context plus the logged-in
 * user and their storage (the dispatcher answers 530 before such a command runs without a login).
 */
export interface CommandContext extends SessionContext {
  /** The logged-in user. */
  readonly user: LoggedInUser;
  /** The user's storage (`user.storage`). */
  readonly storage: Storage;
}
