/**
 * One client connection: drives the command loop over the control channel and implements the
 * `SessionContext` that handlers use (commands that need a login get it with their user and storage,
 * commands/user-context.ts). Transfers run beside the loop, so ABOR and STAT act while one
 * runs; other commands wait for it to end.
 */
import { isIPv4, type Socket } from 'node:net';
import type { SessionContext, DataSetup, LoginOutcome, TransferSource } from './commands/context.js';
import type { CommandRegistry, CommandSpec } from './commands/context.js';
import { normalizeAddress } from './base/address.js';
import { Transfers, type TransferProgress } from './data/transfers.js';
import type { ServerEvents, SessionInfo } from './events.js';
import { logs, type Logger } from './logger.js';
import { ControlChannel } from './protocol/control-channel.js';
import { traceCommand, traceSession } from './diagnostics.js';
import { dispatch, parseCommand, type DispatchResult, type ParsedCommand } from './commands/dispatcher.js';
import { FtpError } from './base/errors.js';
import { formatReply, reply, sent, type Reply, type Sent } from './base/reply.js';
import { SessionState } from './session.js';
import type { ServerSettings } from './settings.js';
import type { Upload } from './storage/storage.js';
import { resolvePath, type VirtualPath } from './base/virtual-path.js';
import { SessionObserver } from './session-observer.js';
import type { ConnectionPeer, ServerCore } from './server-core.js';
import { sessionId } from './session-id.js';
import { Code } from './base/reply-codes.js';
import { isAuthUnavailable, type LoginRefusal, type LoginRequest, type LoginResult } from './auth/authenticator.js';
import { peerCertificate, unverifiedReason } from './tls/client-certs.js';

export type { ConnectionPeer, ServerCore } from './server-core.js';

/** At shutdown, how long each of the last replies (a transfer's 426, the 421) may take to go out. */
export const SHUTDOWN_REPLY_MS = 2000;

/** Waits for `p` (its failure too) at most `ms`. */
async function bounded(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

export class Connection implements SessionContext {
  readonly id = sessionId();
  readonly session = new SessionState();
  readonly channel: ControlChannel;
  private childLog: Logger | undefined;
  readonly remoteAddress: string;
  private local: string | undefined;
  readonly family: 4 | 6;
  /** The proxy the connection came through (PROXY protocol), if any. */
  readonly proxy: string | undefined;
  /**
   * The server's settings when the connection arrived: a reload (server.reconfigure) changes them for
   * new connections only. Logins always check the server's current users.
   */
  readonly settings: ServerSettings;
  /** Turns what happens in the session into events, log lines and trace fields. */
  private readonly observer: SessionObserver;
  /** The session's data side: prepared data connections, transfers, the TLS session binder. */
  private readonly transfers: Transfers;
  private idleTimer: NodeJS.Timeout | undefined;
  private loginTimer: NodeJS.Timeout | undefined;
  private leaving = false;
  private badCommands = 0;
  /** The code of the last reply written, and the final code of the last transfer (for `command` events). */
  private readonly startedAt = Date.now();
  readonly closed: Promise<void>;
  /** When the connection was accepted. */
  readonly connectedAt = new Date();
  /** The session is over (set just before the `disconnect` event). */
  ended = false;
  private resolveClosed!: () => void;
  private shuttingDown: Promise<void> | undefined;

  constructor(
    private readonly server: ServerCore,
    readonly socket: Socket,
    readonly implicit: boolean,
    peer?: ConnectionPeer,
  ) {
    this.settings = server.settings;
    this.remoteAddress = peer?.remoteAddress ?? normalizeAddress(socket.remoteAddress);
    this.local = peer?.localAddress;
    this.proxy = peer?.proxy;
    this.family = isIPv4(this.remoteAddress) ? 4 : 6;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    this.channel = new ControlChannel(socket, {
      maxLineBytes: this.settings.limits.maxLineBytes,
      maxBufferedBytes: this.settings.limits.maxBufferedBytes,
      handshakeTimeoutMs: this.settings.timeouts.handshakeMs,
    });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.observer = new SessionObserver(server.events, server.log, this);
    const conn = this;
    this.transfers = new Transfers({
      settings: this.settings,
      session: this.session,
      get localAddress() {
        return conn.localAddress;
      },
      remoteAddress: this.remoteAddress,
      proxied: this.proxy !== undefined,
      tls: server.tls,
      get log() {
        return conn.log;
      },
      observer: this.observer,
      reply: (r) => this.send(r),
      touch: () => this.touch(),
    });
    // The session ends with its control connection: a transfer still running is aborted at once (an
    // upload whose client is gone is never committed, even if its data connection then ends cleanly).
    this.channel.onEnded = () => this.transfers.stop();
    // Logins and logouts reach the server's session counts (admission, per-user caps) as they happen.
    this.session.onUserChange = () => server.sessionChanged(this);
  }

  /** On its way out (QUIT, a 421, destroy()); for good once set. */
  get closing(): boolean {
    return this.leaving;
  }

  set closing(value: boolean) {
    if (!value || this.leaving) return;
    this.leaving = true;
    this.server.sessionChanged(this);
  }

  /** The name of the user logged in, if any. */
  get userName(): string | undefined {
    return this.session.user?.name;
  }

  /**
   * The address the client connected to (the PROXY header's destination behind a proxy), read on first
   * use: only passive transfers need it, and asking the socket is a system call (getsockname).
   */
  get localAddress(): string {
    return (this.local ??= normalizeAddress(this.socket.localAddress));
  }

  // --- SessionContext -------------------------------------------------------------------------

  /** The session's logger (a child with its id), made on first use: most sessions never log a line. */
  get log(): Logger {
    return (this.childLog ??= this.server.log.child({ sid: this.id }));
  }

  get registry(): CommandRegistry {
    return this.server.registry;
  }
  get events(): ServerEvents {
    return this.server.events;
  }
  get secure(): boolean {
    return this.channel.secure;
  }
  get tlsAvailable(): boolean {
    return this.server.tls !== undefined;
  }
  get transferring(): boolean {
    return this.transfers.transferring;
  }
  /** Bytes sent and received over this session's data connections so far. */
  get totalBytes(): { sent: number; received: number } {
    return this.transfers.totals;
  }
  get transferredBytes(): number {
    return this.transfers.bytes;
  }
  /** The running transfer (for server.sessions), or undefined. */
  get transferProgress(): TransferProgress | undefined {
    return this.transfers.progress;
  }

  get info(): SessionInfo {
    return { id: this.id, remoteAddress: this.remoteAddress, ...(this.session.user ? { user: this.session.user.name } : {}) };
  }

  resolve(arg: string): VirtualPath {
    return resolvePath(this.session.cwd, arg);
  }

  send(r: Reply): Promise<void> {
    return this.channel.write(formatReply(r));
  }

  async startTls(): Promise<void> {
    const tls = this.server.tls;
    if (!tls) throw new FtpError(Code.securityResourceUnavailable, 'TLS is not configured.');
    const clientCerts = tls.clientCerts;
    try {
      await this.channel.startTls(tls.current, this.transfers.bindTls(), clientCerts ? { required: clientCerts.required === true } : undefined);
      this.session.usedTls = true;
      this.observer.controlHandshake();
      if (clientCerts) this.judgeClientCertificate(clientCerts.required === true);
    } catch (err) {
      this.observer.controlHandshake(err as Error);
      this.destroy();
      // The connection is gone: an expected end, not a failure of the command (the reply goes nowhere).
      throw new FtpError(Code.serviceUnavailable, 'TLS negotiation failed.', { cause: err });
    }
  }

  /**
   * Reads the certificate the control handshake presented (client certificates asked for) into the
   * session and logs it; under `clientCerts.required` one that is missing or does not verify ends the
   * connection (a missing one already failed the handshake itself).
   */
  private judgeClientCertificate(required: boolean): void {
    const tls = this.channel.tlsSocket;
    const cert = tls ? peerCertificate(tls) : undefined;
    this.session.clientCert = cert;
    const refused = !required || cert?.verified ? undefined : cert ? unverifiedReason(cert) : 'no client certificate';
    this.observer.clientCertificate(cert, refused);
    if (refused !== undefined) throw new Error(`client certificate refused: ${refused}`);
  }

  async clearTls(r: Reply): Promise<void> {
    try {
      await this.channel.clearTls(formatReply(r), this.settings.timeouts.cccMs);
      this.session.cleared = true;
    } catch (err) {
      this.observer.clearFailed(err as Error);
      this.destroy();
      throw new FtpError(Code.serviceUnavailable, 'Clearing the command channel failed.', { cause: err });
    }
  }

  /** The authenticator's request for `user` (the session's client certificate, if any, goes with it). */
  private loginRequest(user: string, password: string, certificateOnly: boolean): LoginRequest {
    const certificate = this.session.clientCert;
    return {
      user,
      password,
      remoteAddress: this.remoteAddress,
      secure: this.secure,
      ...(certificate ? { certificate } : {}),
      ...(certificateOnly ? { certificateOnly } : {}),
    };
  }

  async login(user: string, password: string): Promise<LoginOutcome> {
    const throttle = this.server.throttle;
    // A banned address gets no password check at all (connections opened before the ban end here).
    let answer: LoginResult | LoginRefusal | null = null;
    if (throttle?.bannedUntil(this.remoteAddress) === undefined) {
      try {
        answer = await this.server.authenticator.login(this.loginRequest(user, password, false));
      } catch (err) {
        if (!isAuthUnavailable(err)) throw err;
        // Neither a success nor a failed login: nothing counts toward a ban, the client may retry later.
        this.observer.login({ result: 'unavailable', user, reason: err.message });
        return 'unavailable';
      }
    }
    const result = answer && !('refused' in answer) ? answer : null;
    const reason = answer && 'refused' in answer ? String(answer.refused) : undefined;
    // A ban that started while the password was checked counts too: success does not lift a ban.
    const banned = throttle?.bannedUntil(this.remoteAddress) !== undefined;
    if (!result || banned) {
      this.session.failedLogins++;
      if (banned) {
        this.observer.login({ result: 'banned', user, ...(reason !== undefined ? { reason } : {}) });
        return 'banned';
      }
      const until = throttle?.recordFailure(this.remoteAddress);
      const ban = until === undefined ? undefined : { network: throttle!.networkOf(this.remoteAddress), failures: throttle!.policy.failures, until };
      this.observer.login({ result: 'failed', user, ...(reason !== undefined ? { reason } : {}), ...(ban ? { ban } : {}) });
      return ban ? 'banned' : 'failed';
    }
    return this.applyLogin(user, result, false);
  }

  async certificateLogin(user: string): Promise<'ok' | 'too-many-sessions' | undefined> {
    const throttle = this.server.throttle;
    if (!this.session.clientCert?.verified || !this.secure) return undefined;
    if (throttle?.bannedUntil(this.remoteAddress) !== undefined) return undefined;
    let answer: LoginResult | LoginRefusal | null;
    try {
      answer = await this.server.authenticator.login(this.loginRequest(user, '', true));
    } catch (err) {
      if (!isAuthUnavailable(err)) throw err;
      return undefined; // the password path takes over (and says 421 if the service is still down)
    }
    if (!answer || 'refused' in answer) return undefined;
    // A ban that started meanwhile: the password path takes over (and refuses).
    if (throttle?.bannedUntil(this.remoteAddress) !== undefined) return undefined;
    const outcome = this.applyLogin(user, answer, true);
    return outcome === 'ok' ? 'ok' : 'too-many-sessions';
  }

  /** A login the authenticator accepted: the per-user session cap, then the session's user. */
  private applyLogin(user: string, result: LoginResult, byCertificate: boolean): 'ok' | 'too-many-sessions' {
    const name = result.name ?? user;
    const max = this.settings.limits.maxSessionsPerUser;
    if (this.server.userSessions(name) >= max) {
      this.observer.login({ result: 'too-many-sessions', user: name, max });
      return 'too-many-sessions';
    }
    this.session.user = { name, storage: result.storage, permissions: result.permissions, anonymous: result.anonymous === true, ...(result.bandwidth ? { bandwidth: result.bandwidth } : {}) };
    this.session.cwd = result.cwd ?? [];
    clearTimeout(this.loginTimer);
    this.loginTimer = undefined;
    this.observer.login({ result: 'ok', user: name, secure: this.secure, ...(byCertificate ? { by: 'certificate' as const } : {}) });
    return 'ok';
  }

  async prepareData(setup: DataSetup): Promise<{ host: string; port: number } | void> {
    return this.transfers.prepare(setup);
  }

  async sendData(source: () => Promise<TransferSource>, opening: string): Promise<Sent> {
    return sent(await this.transfers.download(source, opening));
  }

  async receiveData(upload: () => Promise<Upload>, opening: string, path: VirtualPath): Promise<Sent> {
    return sent(await this.transfers.upload(upload, opening, path));
  }

  abortTransfer(): Promise<boolean> {
    return this.transfers.abort();
  }

  close(): void {
    this.closing = true;
  }

  /** Resolves when no transfer is running. */
  transferDone(): Promise<void> {
    return this.transfers.idle();
  }

  // --- the command loop -----------------------------------------------------------------------

  /** Runs the session to its end (inside an `ftpsd:session` span when someone traces). */
  run(): Promise<void> {
    return traceSession(
      () => ({ sessionId: this.id, remoteAddress: this.remoteAddress, implicit: this.implicit }),
      () => this.runSession(),
      () => this.session.user?.name,
    );
  }

  private async runSession(): Promise<void> {
    this.armLoginTimer();
    try {
      if (this.implicit) {
        await this.startTls();
        this.session.pbsz = true;
        this.session.prot = 'P';
      }
      await this.send(reply(Code.serviceReady, this.settings.greeting));
      this.touch();
      await this.loop();
    } catch (err) {
      if (logs(this.server.log, 'debug')) this.log.debug({ err: (err as Error).message }, 'connection ended');
    } finally {
      await this.cleanup();
    }
  }

  private async loop(): Promise<void> {
    let pending: Promise<void> | undefined;
    while (!this.closing) {
      const event = await this.channel.readLine();
      if (!event) break;
      this.touch();
      if (event.kind === 'flood') {
        await this.send(reply(Code.serviceUnavailable, 'Line too long; closing connection.'));
        break;
      }
      if (event.kind !== 'line') {
        const started = performance.now();
        const refusal = event.kind === 'tooLong' ? reply(Code.syntaxError, 'Line too long.') : reply(Code.badArguments, 'Invalid UTF-8 in command.');
        await this.send(refusal);
        this.observer.command(undefined, undefined, undefined, refusal.code, started);
        if (++this.badCommands >= this.settings.limits.maxBadCommands) {
          await this.send(reply(Code.serviceUnavailable, 'Too many bad commands; closing connection.'));
          break;
        }
        continue;
      }
      const parsed = parseCommand(event.text);
      const spec = parsed ? this.registry.get(parsed.verb) : undefined;
      if (pending && !spec?.duringTransfer) await pending;
      const started = performance.now();
      const traced = () => ({
        sessionId: this.id,
        remoteAddress: this.remoteAddress,
        user: this.session.user?.name,
        verb: parsed?.verb,
        arg: spec?.sensitive || !parsed?.arg ? undefined : parsed.arg,
      });
      const dispatched = traceCommand(traced, () => dispatch(this, spec, parsed), (r) => r.code);
      if (spec?.transfer) {
        const run = dispatched.then((result) => this.finishCommand(result, spec, parsed, started));
        pending = run;
        // Both outcomes clear it; a failure itself surfaces where `pending` is awaited, never unhandled.
        const clear = () => {
          if (pending === run) pending = undefined;
        };
        run.then(clear, clear);
      } else {
        // Every other command runs to its end before the next line is read.
        await this.finishCommand(await dispatched, spec, parsed, started);
      }
      // Logged out again (REIN, USER): the login timeout applies again.
      if (!this.session.user) this.armLoginTimer();
      if (this.badCommands >= this.settings.limits.maxBadCommands) {
        await this.send(reply(Code.serviceUnavailable, 'Too many bad commands; closing connection.'));
        break;
      }
    }
    // A transfer still running here outlives the commands: the connection ended, or is being closed
    // (421). It is aborted, never completed (QUIT waits for a transfer before it runs).
    if (pending) {
      this.transfers.stop();
      await pending;
    }
  }

  /** A command's reply (unless its handler wrote it) and its report. */
  private async finishCommand(result: DispatchResult, spec: CommandSpec | undefined, parsed: ParsedCommand | undefined, started: number): Promise<void> {
    if (result.reply) await this.send(result.reply);
    this.badCommands = result.bad ? this.badCommands + 1 : 0;
    // The final code comes back in the result, also when the handler wrote that reply itself (a transfer's 226/426, AUTH, PASS).
    this.observer.command(parsed?.verb, spec, parsed?.arg, result.code, started);
  }

  /** Starts the login timeout unless it is running. */
  private armLoginTimer(): void {
    if (this.loginTimer || this.closing) return;
    this.loginTimer = setTimeout(() => this.timeout('Login timeout.'), this.settings.timeouts.loginMs);
  }

  /** Restarts the idle timer; while a transfer runs the timer only re-arms. */
  touch(): void {
    const ms = this.settings.timeouts.idleMs;
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => (this.transfers.transferring ? this.touch() : this.timeout('Idle timeout; closing connection.')), ms);
  }

  private timeout(text: string): void {
    if (this.transfers.transferring) return;
    this.log.info({ reason: text }, 'timeout');
    void this.send(reply(Code.serviceUnavailable, text)).finally(() => this.destroy());
  }

  /** Not logged in (yet, or again after REIN). */
  get unauthenticated(): boolean {
    return this.session.user === undefined;
  }

  /**
   * Pushed out to make room for a newer connection (the pre-login pool is full, see
   * security/login-pool.ts): a 421 (none before the implicit TLS handshake: it would not be TLS), then closed.
   */
  evict(text: string): void {
    if (this.closing) return;
    this.closing = true;
    // debug: the gate logs these at warn, at most once a minute (a flood makes thousands).
    this.log.debug({ peer: this.remoteAddress }, 'pushed out: too many connections waiting to log in');
    if (this.implicit && !this.secure) this.destroy();
    else void this.send(reply(Code.serviceUnavailable, text)).finally(() => this.destroy());
  }

  /**
   * The server is going down: a running transfer is stopped first (its `426` goes out as its final reply;
   * an upload is aborted), then `421`, then the connection closes. Each reply gets at most
   * `SHUTDOWN_REPLY_MS` to go out, so a client that does not read cannot hold the shutdown. Safe to call
   * more than once: resolves when the connection is destroyed.
   */
  shutdown(): Promise<void> {
    return this.end('Server shutting down.');
  }

  /**
   * Ends the session as `shutdown()` does, with `text` in the 421 (a user disabled or removed while
   * logged in: src/runtime/user-db.ts).
   */
  end(text: string): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.closing = true;
      if (!this.ended) {
        await bounded(this.transfers.abort(), SHUTDOWN_REPLY_MS);
        await bounded(this.send(reply(Code.serviceUnavailable, text)), SHUTDOWN_REPLY_MS);
      }
      this.destroy();
    })();
    return this.shuttingDown;
  }

  destroy(): void {
    this.closing = true;
    this.transfers.stop();
    this.channel.destroy();
  }

  private async cleanup(): Promise<void> {
    clearTimeout(this.idleTimer);
    clearTimeout(this.loginTimer);
    this.transfers.stop();
    if (this.channel.error) this.observer.controlError(this.channel.error);
    await this.channel.end().catch(() => this.channel.destroy());
    this.ended = true;
    this.observer.disconnect(this.startedAt);
    this.resolveClosed();
  }
}
