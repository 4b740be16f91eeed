/**
 * What a command handler can see and do (the contexts; the connection implements them, handlers never
 * touch sockets), and what a command is (its spec, the server's registry of them). These types name each
 * other, so they live in one file; define.ts (defineCommand) builds on them.
 */
import type { Logger } from '../logger.js';
import type { Reply, Sent } from '../base/reply.js';
import type { SessionState, LoggedInUser } from '../session.js';
import type { Storage, Upload } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { ServerSettings } from '../settings.js';
import type { Permission } from '../auth/permissions.js';
import type { ServerEvents } from '../events.js';
import type { DataSetup, TransferSource } from '../data/data-setup.js';

export type LoginOutcome = 'ok' | 'failed' | 'banned' | 'too-many-sessions' | 'unavailable';

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
   * right but the user has `maxSessionsPerUser` sessions already; `unavailable`: the authenticator could
   * not decide (its directory or service is down; not a failed login).
   */
  login(user: string, password: string): Promise<LoginOutcome>;
  /**
   * USER: whether the control connection's verified client certificate alone logs `user` in (RFC 4217
   * section 12.2: answered 232, no PASS); applies the login then. Undefined when it does not (no
   * certificate, the account wants a password, a banned address): the client is asked for its password
   * as usual and nothing is counted as a failure.
   */
  certificateLogin(user: string): Promise<'ok' | 'too-many-sessions' | undefined>;
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

/** Whether a command takes an argument: `none` (501 if one is given), `optional`, `required` (501 without one). */
export type ArgPolicy = 'none' | 'optional' | 'required';

/** The metadata every command has, whatever its `access`. */
export interface CommandSpecBase {
  /** The verb, upper case (A-Z, 0-9, `-`; at most 16 characters). */
  readonly name: string;
  /** Other verbs for the same command (XMKD for MKD, ...). */
  readonly aliases?: readonly string[];
  /** Whether the command takes an argument. */
  readonly arg: ArgPolicy;
  /** Allowed while TLS is required but not yet on (AUTH, FEAT, QUIT, ...). */
  readonly beforeTls?: boolean;
  /**
   * When the argument is a path, the dispatcher resolves it (553 if invalid) and checks `perm` on it
   * (550 if denied); the handler gets the resolved path. `optional-arg`: the argument may be absent and
   * then means the current directory.
   */
  readonly path?: 'arg' | 'optional-arg';
  readonly perm?: Permission;
  /** Runs alongside the command loop, so ABOR, STAT and QUIT can act while it transfers. */
  readonly transfer?: boolean;
  /** May run while a transfer is active (ABOR, STAT, QUIT, NOOP). */
  readonly duringTransfer?: boolean;
  /**
   * The command carries login credentials (USER, PASS, ACCT): while TLS is required it needs a secure
   * control channel even in a session that logged in before and cleared it (CCC).
   */
  readonly credentials?: boolean;
  /** The argument is secret (PASS): never logged. */
  readonly sensitive?: boolean;
  /** The FEAT line(s) this command contributes, if any (without the leading space). */
  readonly feat?: string | ((ctx: SessionContext) => string | readonly string[] | undefined);
  /** Short syntax for HELP (`HELP VERB` answers `214 Syntax: <help>`). */
  readonly help: string;
  /**
   * Whether the command exists for this session (e.g. MFMT needs a storage with setTime); when it says
   * no, the command is left out of HELP and FEAT and answers 502. Before login there is no storage:
   * built-in capability commands then say yes, so FEAT announces them.
   */
  readonly available?: (ctx: SessionContext) => boolean;
}

/** A command allowed before login: its handler gets the session's context (the user, if any, is `session.user`). */
export interface PublicCommandSpec extends CommandSpecBase {
  /** `public`: allowed before login. */
  readonly access: 'public';
  /** Runs the command (see {@link UserCommandSpec.handle}). */
  readonly handle: (ctx: SessionContext, arg: string, path: VirtualPath) => Promise<Reply | Sent | void> | Reply | Sent | void;
}

/** A command that needs a login: its handler gets the user and their storage. */
export interface UserCommandSpec extends CommandSpecBase {
  /** `user`: needs a logged-in user (530 before login). */
  readonly access: 'user';
  /**
   * Runs the command. `arg` is the argument verbatim (spaces kept); `path` is the resolved path when
   * `path` is set (else the current directory). Return the reply; when the handler wrote its final
   * reply itself, return `sent(code)` (after `ctx.send`), or what `ctx.sendData`/`ctx.receiveData` resolve to,
   * so the `command` event and the log carry the code (nothing: no code is reported). Throw an
   * `FtpError` for a deliberate reply, or let a `StorageError` (ENOENT...) through: it becomes its reply
   * (550, 452, 552, ...). Anything else is a 451 and an `error` event.
   */
  readonly handle: (ctx: CommandContext, arg: string, path: VirtualPath) => Promise<Reply | Sent | void> | Reply | Sent | void;
}

/**
 * A command and its metadata, as every built-in command is defined. The dispatcher checks, in this
 * order, before `handle` runs: the verb exists and is `available` (else 500/502), the TLS policy
 * (`beforeTls`, `credentials`; 530), login (`access`; 530), the argument (`arg`; 501), the path (`path`; 553) and the
 * permission on it (`perm`; 550). FEAT and HELP are made from these specs. `access` decides what the
 * handler gets: `public` the session's context, `user` also the user and their storage.
 */
export type CommandSpec = PublicCommandSpec | UserCommandSpec;

/** The commands of a server, by verb; FEAT and HELP are generated from it. */
export class CommandRegistry {
  private readonly byVerb = new Map<string, CommandSpec>();
  private readonly ordered: CommandSpec[] = [];

  constructor(specs: Iterable<CommandSpec> = []) {
    for (const spec of specs) this.add(spec);
  }

  /** Adds a command; a later definition of the same verb replaces the earlier one. */
  add(spec: CommandSpec): void {
    const existing = this.byVerb.get(spec.name);
    if (existing) this.ordered.splice(this.ordered.indexOf(existing), 1);
    this.ordered.push(spec);
    for (const verb of [spec.name, ...(spec.aliases ?? [])]) this.byVerb.set(verb, spec);
  }

  get(verb: string): CommandSpec | undefined {
    return this.byVerb.get(verb);
  }

  all(): readonly CommandSpec[] {
    return this.ordered;
  }

  /** Every verb including aliases, sorted (for HELP). */
  verbs(ctx: SessionContext): string[] {
    const out: string[] = [];
    for (const spec of this.ordered) {
      if (spec.available && !spec.available(ctx)) continue;
      out.push(spec.name, ...(spec.aliases ?? []));
    }
    return out.sort();
  }

  /** The FEAT lines for this session, sorted and without duplicates. */
  features(ctx: SessionContext): string[] {
    const lines = new Set<string>();
    for (const spec of this.ordered) {
      if (!spec.feat || (spec.available && !spec.available(ctx))) continue;
      const feat = typeof spec.feat === 'function' ? spec.feat(ctx) : spec.feat;
      if (feat === undefined) continue;
      for (const line of typeof feat === 'string' ? [feat] : feat) lines.add(line);
    }
    return [...lines].sort();
  }
}
