/**
 * The one place where what happens in a session becomes events, log lines, error reports and trace
 * fields: the connection, its data channel and the command handlers report outcomes (a login attempt,
 * a handshake, a command's final code, a transfer's outcome) and this turns them into the rest. Events
 * nobody listens to cost nothing: each is built only when it has a listener.
 */
import { handshakeFailure, transferRefusal } from './base/refusals.js';
import { reportError, type TransferTrace } from './diagnostics.js';
import type { ServerEventMap, ServerEvents, SessionInfo } from './events.js';
import { logs, type Logger } from './logger.js';
import type { SessionState } from './session.js';
import { formatPath, type VirtualPath } from './base/virtual-path.js';
import type { TransferOutcome } from './data/transfer.js';
import { reuseRefusal } from './data/data-channel.js';
import type { ClientCertificate } from './tls/client-certs.js';

/** What the observer reads of a command's spec (a `CommandSpec` has it): its name, and whether its argument is kept out of logs. */
export interface CommandNaming {
  readonly name: string;
  readonly sensitive?: boolean;
}

/** What the observer reads from its session (live: the user changes with a login). */
export interface ObservedSession {
  readonly id: string;
  readonly info: SessionInfo;
  readonly log: Logger;
  readonly remoteAddress: string;
  readonly session: SessionState;
}

/** A password check (PASS) and what came of it. */
export type LoginAttempt =
  | { result: 'ok'; user: string; secure: boolean; by?: 'certificate' }
  /** `reason`: why, when the authenticator said (a certificate rule: "client certificate names bob"). */
  | { result: 'failed' | 'banned'; user: string; reason?: string; ban?: { network: string; failures: number; until: number } }
  | { result: 'too-many-sessions'; user: string; max: number }
  | { result: 'unavailable'; user: string; reason: string };

/** How a protected data connection's TLS handshake went. */
/** `refused`: the handshake completed but the connection is refused (the 425's text), `by` the session-reuse rule (default) or the client-certificate binding. */
/** `early`: the client started TLS before its transfer command and was answered at once (data/early-tls.ts). */
export type DataHandshake = { ok: true; resumed: boolean; early?: boolean } | { ok: false; refused?: string; by?: 'reuse' | 'certificate' };

/** One transfer that ended (its final reply not yet written). */
export interface TransferReport {
  direction: 'upload' | 'download';
  /** The file (none for listings). */
  path: VirtualPath | undefined;
  /** The file was opened: a file transfer, not one refused before (550, ...). */
  opened: boolean;
  outcome: TransferOutcome;
  /** Date.now() when the command started the transfer. */
  started: number;
}

/** Events a command handler reports about the files it changed (built here, with the session's fields). */
type FileEvent = 'delete' | 'rename' | 'mkdir';
type FileEventFields<K extends FileEvent> = Omit<ServerEventMap[K][0], keyof SessionInfo>;

/** Reports a file change by a handler: `delete`, `rename`, `mkdir`, with the session's id, address and user. */
export function fileEvent<K extends FileEvent>(
  ctx: { readonly events: ServerEvents; readonly id: string; readonly remoteAddress: string; readonly user: { readonly name: string } },
  name: K,
  fields: FileEventFields<K>,
): void {
  if (ctx.events.listenerCount(name) === 0) return;
  const payload = { id: ctx.id, remoteAddress: ctx.remoteAddress, user: ctx.user.name, ...fields } as ServerEventMap[K][0];
  (ctx.events.emit as (event: K, arg: ServerEventMap[K][0]) => boolean)(name, payload);
}

export class SessionObserver {
  constructor(
    private readonly events: ServerEvents,
    /** The server's logger: which levels log (the session's child logger is made only when one does). */
    private readonly serverLog: Logger,
    private readonly s: ObservedSession,
  ) {}

  /** The observed session's id (for traces). */
  get sessionId(): string {
    return this.s.id;
  }

  /** Emits `name` when someone listens, with the payload made only then. */
  private emit<K extends keyof ServerEventMap>(name: K, payload: () => ServerEventMap[K]): void {
    if (this.events.listenerCount(name) === 0) return;
    (this.events.emit as (event: K, ...args: ServerEventMap[K]) => boolean)(name, ...payload());
  }

  private logs(level: 'debug' | 'info'): boolean {
    return logs(this.serverLog, level);
  }

  /** The TLS handshake of the control connection (AUTH, implicit FTPS). */
  controlHandshake(error?: Error): void {
    this.emit('tls-handshake', () => [{ ...this.s.info, channel: 'control', ok: error === undefined }]);
    // A short stable key, not OpenSSL's text (kept at debug for whoever needs it).
    if (error) {
      this.s.log.info({ peer: this.s.remoteAddress, reason: handshakeFailure(error as Error & { code?: string }) }, 'TLS handshake failed');
      this.s.log.debug({ err: error.message }, 'TLS handshake failed: detail');
    }
  }

  /**
   * The certificate the control connection's handshake presented (client certificates asked for), or
   * none; `refused`: why the connection is refused for it (`clientCerts.required`).
   */
  clientCertificate(cert: ClientCertificate | undefined, refused?: string): void {
    if (!this.logs('info') && refused === undefined) return;
    const fields = cert
      ? { certSubject: cert.subject, certFingerprint: cert.fingerprint, certVerified: cert.verified, ...(cert.error ? { certError: cert.error } : {}) }
      : {};
    if (refused !== undefined) this.s.log.info({ peer: this.s.remoteAddress, reason: refused, ...fields }, 'TLS connection refused: client certificate required');
    else if (cert) this.s.log.info({ peer: this.s.remoteAddress, ...fields }, 'client certificate');
  }

  /** CCC could not clear the control connection. */
  clearFailed(error: Error): void {
    this.s.log.info({ err: error.message }, 'CCC failed');
  }

  /** A protected data connection's handshake; `refused`: it completed, but the session it used is refused (the 425's text). */
  dataHandshake(result: DataHandshake): void {
    const refused = result.ok ? undefined : result.refused;
    this.emit('tls-handshake', () => [
      { ...this.s.info, channel: 'data', ok: result.ok || refused !== undefined, ...(result.ok ? { resumed: result.resumed } : refused !== undefined ? { resumed: false } : {}) },
    ]);
    if (result.ok && result.early) this.s.log.debug({ resumed: result.resumed }, 'data connection: TLS handshake answered before the transfer command');
    if (refused === undefined) return;
    if (!result.ok && result.by === 'certificate') {
      const cert = this.s.session.clientCert;
      this.s.log.info({ peer: this.s.remoteAddress, detail: refused, ...(cert ? { certFingerprint: cert.fingerprint } : {}) }, 'data connection refused: client certificate');
      return;
    }
    this.emit('reuse-refused', () => [this.s.info]);
    this.s.log.info({ peer: this.s.remoteAddress, ...reuseRefusal(refused) }, 'data connection refused: TLS session reuse');
  }

  /** A password check: `login`, `login-failed`, `login-attempt` and the log lines. */
  login(attempt: LoginAttempt): void {
    const { user } = attempt;
    const peer = this.s.remoteAddress;
    if (attempt.result === 'ok') {
      if (this.logs('info')) this.s.log.info({ user, peer, secure: attempt.secure, ...(attempt.by ? { by: attempt.by } : {}), ...this.certFields() }, 'login');
      this.emit('login', () => [{ ...this.s.info, user }]);
      this.emit('login-attempt', () => [{ ...this.s.info, user, result: 'ok' }]);
      return;
    }
    if (attempt.result === 'too-many-sessions') {
      this.s.log.warn({ user, peer, max: attempt.max, reason: 'user-sessions', setting: 'limits.maxSessionsPerUser' }, 'login refused: too many sessions for this user');
      this.emit('login-attempt', () => [{ ...this.s.info, user, result: 'too-many-sessions' }]);
      return;
    }
    if (attempt.result === 'unavailable') {
      this.s.log.warn({ user, peer, reason: attempt.reason }, 'login refused: authentication service unavailable');
      this.emit('login-attempt', () => [{ ...this.s.info, user, result: 'unavailable' }]);
      return;
    }
    this.emit('login-failed', () => [{ ...this.s.info, user }]);
    const reason = attempt.result === 'banned' ? 'banned' : attempt.reason;
    this.s.log.info({ user, peer, ...(reason !== undefined ? { reason } : {}), ...this.certFields() }, 'login failed');
    const ban = attempt.result === 'failed' ? attempt.ban : undefined;
    this.emit('login-attempt', () => [{ ...this.s.info, user, result: attempt.result, ...(ban ? { banStarted: true } : {}) }]);
    if (ban) {
      this.s.log.warn(
        { peer, network: ban.network, failures: ban.failures, until: new Date(ban.until).toISOString() },
        'address banned after repeated failed logins',
      );
    }
  }

  /** The session's client certificate, for log lines (none when none was presented). */
  private certFields(): { certSubject?: string; certFingerprint?: string } {
    const cert = this.s.session.clientCert;
    return cert ? { certSubject: cert.subject, certFingerprint: cert.fingerprint } : {};
  }

  /**
   * One command is done: the `command` event, and a debug line with its reply code and time. The
   * argument of a `sensitive` command (PASS) is never logged, at any level.
   */
  command(verb: string | undefined, spec: CommandNaming | undefined, arg: string | undefined, code: number | undefined, started: number): void {
    const emit = this.events.listenerCount('command') > 0;
    const debug = this.logs('debug');
    if (!emit && !debug) return;
    const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
    if (emit) this.events.emit('command', { ...this.s.info, command: spec?.name, verb, code, durationMs });
    if (debug) {
      this.s.log.debug(
        { user: this.s.session.user?.name, cmd: verb, ...(arg === undefined || arg === '' || spec?.sensitive ? {} : { arg }), code, ms: durationMs },
        'command',
      );
    }
  }

  /**
   * A transfer ended (before its final reply goes out): errors reported, the trace's fields, and for a
   * file transfer `transfer-end` with its log line, then `upload`/`download` when it completed.
   */
  transfer(report: TransferReport, traced: TransferTrace | undefined): void {
    const { outcome, path, direction, started } = report;
    if (outcome.error !== undefined) {
      this.s.log.error({ err: outcome.error }, 'transfer failed');
      reportError(this.events, outcome.error, this.s.id);
    }
    if (traced) Object.assign(traced, { path: path && formatPath(path), bytes: outcome.bytes, code: outcome.reply.code, ok: outcome.ok });
    if (path && report.opened) this.transferEnded(direction, path, outcome, started);
    if (direction === 'upload' && path && outcome.cut === 'no-close-notify') {
      this.s.log.warn(
        { peer: this.s.remoteAddress, user: this.s.session.user?.name, path: formatPath(path), setting: 'uploads.requireCloseNotify' },
        'upload aborted (426): the data connection ended without TLS close_notify; uploads.requireCloseNotify: false accepts such uploads',
      );
    }
    if (!outcome.ok || !path) return;
    this.emit(direction, () => [
      { ...this.s.info, path: formatPath(path), bytes: outcome.bytes, durationMs: Date.now() - started, secure: this.s.session.prot === 'P' },
    ]);
  }

  /** A file transfer ended, completed or not: the `transfer-end` event and its log line. */
  private transferEnded(direction: 'upload' | 'download', path: VirtualPath, outcome: TransferOutcome, started: number): void {
    const { session, log } = this.s;
    const emit = this.events.listenerCount('transfer-end') > 0;
    const info = this.logs('info');
    if (!emit && !info) return;
    const event = {
      ...this.s.info,
      direction,
      path: formatPath(path),
      bytes: outcome.bytes,
      durationMs: Date.now() - started,
      mode: session.type === 'A' ? ('ascii' as const) : ('binary' as const),
      protection: session.prot === 'P' ? ('private' as const) : ('clear' as const),
      ok: outcome.ok,
      code: outcome.reply.code,
      anonymous: session.user?.anonymous === true,
    };
    if (emit) this.events.emit('transfer-end', event);
    if (!info) return;
    const { id: _id, remoteAddress, durationMs, ok, ...fields } = event;
    const reason = ok ? undefined : transferRefusal(outcome.reply);
    log.info({ ...fields, peer: remoteAddress, ms: durationMs, ...(outcome.cut ? { cut: outcome.cut } : {}), ...(reason ? { reason } : {}) }, ok ? 'transfer complete' : 'transfer failed');
  }

  /** The control connection failed (the session ends with it). */
  controlError(error: Error): void {
    this.s.log.debug({ err: error.message }, 'control connection error');
  }

  /** The session is over: its log line and `disconnect`. */
  disconnect(startedAt: number): void {
    if (this.logs('info')) this.s.log.info({ peer: this.s.remoteAddress, user: this.s.session.user?.name, ms: Date.now() - startedAt }, 'disconnect');
    this.emit('disconnect', () => [this.s.info]);
  }
}
