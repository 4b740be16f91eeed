/**
 * The early TLS handshake of a passive protected data connection: answering a client that starts TLS as
 * soon as it connected, before it sends its transfer command.
 *
 * Why: curl (PROT P) connects right after EPSV and sends its ClientHello at once, then RETR/STOR, and
 * waits on the data socket while it waits for the 150; a server that reads the ClientHello only when the
 * transfer runs makes curl see the control replies late (0.2-1.2 s per transfer; pyftpdlib, which
 * handshakes at accept, does not). So from the moment the session's passive listener accepts the
 * connection while PROT P is in force (transfers.ts), the ClientHello is watched for:
 *
 * - It comes before the transfer command takes the connection: the handshake starts at once, with
 *   Node's native TLS socket directly on the TCP socket (`nativeTls`, data-end.ts), as a download's. If
 *   the transfer is an upload, `uploading()` (before its 150, so before the client sends data) makes it
 *   end as an upload's: the TCP socket's reads are taken away from TLS and fed to it by us, so that
 *   close_notify is told from a FIN or a reset (`watchUploadEnd`). Where Node's internals for that are
 *   missing (user-buffer.ts), the handshake takes the upload's pipe wrapping, which serves both
 *   directions. The context is chosen from the ClientHello and the session's policies as always
 *   (data-channel.ts).
 * - The transfer command comes first (lftp, ftplib, FileZilla, basic-ftp handshake after the 150): the
 *   watch goes on, and the ClientHello, once read, goes to the transfer's own handshake
 *   (`protectDataSocket`) as it would have: direction-specific wrapping, the TLS socket directly on the
 *   TCP socket for downloads.
 * - Bytes that are not a ClientHello start nothing: the transfer's handshake meets them as today.
 *
 * `claim` is the transfer's side: it waits for what is under way under the transfer's signal and the
 * handshake timeout counted from the transfer's start, then checks that the connection belongs to the
 * control connection (session reuse, client certificates) with the policies in force then. A failure
 * becomes the transfer's 425 with the texts of data-channel.ts. `clear` is a transfer that runs in clear
 * (PROT C since the connection came): refused with a 425 once TLS started on the connection.
 *
 * Every wait is bounded: the watch by `helloTimeoutMs` (the session's idle timeout), the early handshake
 * by `handshakeTimeoutMs`. `release` (ABOR, a new PASV/EPSV, PORT, the session's end, a transfer refused
 * before connecting) closes everything unless a transfer claimed it.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FtpError } from '../base/errors.js';
import type { ClientHelloInfo } from '../tls/client-hello.js';
import { watchUploadEnd } from './data-end.js';
import {
  ABORTED,
  awaitSecure,
  checkDataBinding,
  dataError,
  handshakeFacts,
  protectDataSocket,
  startDataTls,
  TIMED_OUT,
  watchClientHello,
  type DataTlsOptions,
  type HandshakeFacts,
  type ProtectOptions,
} from './data-channel.js';

type State =
  /** No complete ClientHello yet. */
  | { kind: 'waiting' }
  /** Read, no handshake started: claimed first, not a ClientHello (`hello` undefined), or no TLS options. */
  | { kind: 'read'; hello: ClientHelloInfo | undefined }
  | { kind: 'handshaking'; tls: TLSSocket }
  | { kind: 'secure'; tls: TLSSocket; facts: HandshakeFacts }
  | { kind: 'failed'; error: FtpError }
  | { kind: 'released' };

export interface EarlyTlsOptions {
  /** The TLS options of a handshake started now (with the session's policies now); undefined: none. */
  tlsOptions(): DataTlsOptions | undefined;
  /** Whether an upload must end with close_notify (the early handshake's wrapping is the upload's). */
  requireCloseNotify: boolean;
  /** How long the ClientHello is waited for before the transfer command. */
  helloTimeoutMs: number;
  handshakeTimeoutMs: number;
}

const PROT_CHANGED = 'Data connection refused: it started TLS, but PROT C is in force.';

export class EarlyDataTls {
  private state: State = { kind: 'waiting' };
  private claimed = false;
  /** The transfer is an upload (`uploading`). */
  private upload = false;
  /** Aborts the early handshake (release). */
  private readonly abort = new AbortController();
  private readonly stopWatch: () => void;
  /** Called when the state leaves `waiting` or `handshaking` (a claim waits for it). */
  private wake: (() => void) | undefined;

  constructor(
    readonly socket: Socket,
    private readonly options: EarlyTlsOptions,
  ) {
    this.stopWatch = watchClientHello(socket, options.helloTimeoutMs, (err, hello) => this.onHello(err, hello));
  }

  private onHello(err: FtpError | undefined, hello: ClientHelloInfo | undefined): void {
    if (this.state.kind !== 'waiting') return;
    if (err) return this.settle({ kind: 'failed', error: err });
    const options = !this.claimed && hello ? this.options.tlsOptions() : undefined;
    if (!options) return this.settle({ kind: 'read', hello });
    const tls = startDataTls(this.socket, hello, { ...options, upload: { requireCloseNotify: this.options.requireCloseNotify, early: true } });
    this.state = { kind: 'handshaking', tls };
    if (this.upload) watchUploadEnd(tls, this.options.requireCloseNotify);
    awaitSecure(tls, Date.now() + this.options.handshakeTimeoutMs, this.abort.signal).then(
      () => {
        if (this.state.kind === 'handshaking') this.settle({ kind: 'secure', tls, facts: handshakeFacts(tls, options) });
      },
      (error: FtpError) => {
        if (this.state.kind === 'handshaking') this.settle({ kind: 'failed', error });
      },
    );
  }

  private settle(state: State): void {
    this.state = state;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /**
   * The transfer takes the connection under PROT P: the protected stream once its handshake is done
   * (early, or now with the ClientHello already read), or a 425.
   */
  async claim(options: ProtectOptions): Promise<TLSSocket> {
    this.claimed = true;
    const deadline = Date.now() + options.handshakeTimeoutMs;
    if (this.state.kind === 'waiting' || this.state.kind === 'handshaking') await this.settled(deadline, options.signal);
    const s = this.state;
    switch (s.kind) {
      case 'read':
        return protectDataSocket(this.socket, { ...options, handshakeTimeoutMs: Math.max(0, deadline - Date.now()), hello: { info: s.hello } });
      case 'secure':
        // The policies in force now decide; the context and certificate request were those of the handshake.
        checkDataBinding(s.tls, s.facts, options);
        return s.tls;
      case 'failed':
        throw s.error;
      default:
        throw dataError(ABORTED);
    }
  }

  /**
   * The transfer on this connection is an upload (called before its 150, so before the client sends
   * it): an early TLS socket on the TCP socket itself is made to end as an upload's (`watchUploadEnd`).
   */
  uploading(): void {
    this.upload = true;
    const s = this.state;
    if (s.kind === 'handshaking' || s.kind === 'secure') watchUploadEnd(s.tls, this.options.requireCloseNotify);
  }

  /** Whether the early handshake resumed a session; undefined when the handshake was not an early one. */
  get resumed(): boolean | undefined {
    return this.state.kind === 'secure' ? this.state.facts.resumed : undefined;
  }

  /**
   * The transfer takes the connection in clear (PROT C since it came): allowed while TLS has not started
   * on it (bytes read are put back), else the connection is closed and this throws the 425.
   */
  clear(): void {
    this.claimed = true;
    const s = this.state;
    if (s.kind === 'waiting') {
      this.stopWatch();
      this.state = { kind: 'released' };
      return;
    }
    if (s.kind === 'read' && s.hello === undefined) return;
    if (s.kind === 'failed') throw s.error;
    this.destroy();
    throw dataError(PROT_CHANGED);
  }

  /** The arming ended before a transfer claimed the connection: everything is closed. */
  release(): void {
    if (!this.claimed) this.destroy();
  }

  private destroy(): void {
    this.abort.abort();
    this.stopWatch();
    const s = this.state;
    if (s.kind === 'handshaking' || s.kind === 'secure') s.tls.destroy();
    this.socket.destroy();
    this.settle({ kind: 'released' });
  }

  /** Waits until the state leaves `waiting`/`handshaking`; on abort or timeout destroys all and throws. */
  private settled(deadline: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(dataError(TIMED_OUT)), Math.max(0, deadline - Date.now()));
      const onAbort = () => done(dataError(ABORTED));
      const done = (err?: FtpError) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
        if (!err) return resolve();
        this.destroy();
        reject(err);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.wake = () => done();
    });
  }
}
