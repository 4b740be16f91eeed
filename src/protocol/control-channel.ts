/**
 * The control connection's transport: reads command lines, writes replies, and switches TLS on (AUTH,
 * implicit FTPS) and off (CCC) without losing or re-reading a byte.
 *
 * - Reading is pull-based (`readLine()`), one line at a time, so when a command takes over the stream
 *   (AUTH TLS) nothing after it has been parsed. Plaintext bytes that arrived after AUTH are handed to
 *   the TLS handshake, never to the command parser: an injected command just fails the handshake.
 * - Input is bounded: the line reader caps line length, and the socket is paused while more than
 *   `maxBufferedBytes` wait unread.
 * - TLS runs over a `RecordPipe`, never directly over the socket, so CCC can end TLS with a close_notify
 *   exchange and go on reading the same TCP connection in plaintext.
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { LineReader, type LineEvent } from './line-reader.js';
import { RecordPipe } from './record-pipe.js';
import type { SessionBinder } from '../tls/session-reuse.js';

export interface ControlChannelOptions {
  maxLineBytes: number;
  maxBufferedBytes: number;
  handshakeTimeoutMs: number;
}

export type ChannelEnd = { kind: 'eof' } | { kind: 'error'; error: Error };

export class ControlChannel {
  private readonly reader: LineReader;
  private tls: TLSSocket | undefined;
  private pipe: RecordPipe | undefined;
  private waiter: (() => void) | undefined;
  private ended = false;
  /** Where reads currently come from: the raw socket or the TLS socket. */
  private source: Socket | TLSSocket;
  private readonly onRawData = (chunk: Buffer) => this.pipe ? this.feedPipe(chunk) : this.onData(chunk);
  private readonly onTlsData = (chunk: Buffer) => this.onData(chunk);
  private readonly onEnd = () => this.finish();
  /** Set when the connection failed; the reason is logged by the owner. */
  error: Error | undefined;
  /**
   * Called once when the connection ends (end, close, error, the end of its TLS), whatever the reader
   * is doing: the owner stops what must not outlive the connection (a running transfer).
   */
  onEnded: (() => void) | undefined;

  constructor(
    readonly raw: Socket,
    private readonly options: ControlChannelOptions,
  ) {
    this.reader = new LineReader(options.maxLineBytes);
    this.source = raw;
    raw.on('data', this.onRawData);
    raw.on('end', this.onEnd);
    raw.on('close', this.onEnd);
    raw.on('error', (err) => this.fail(err));
  }

  get secure(): boolean {
    return this.tls !== undefined;
  }

  get tlsSocket(): TLSSocket | undefined {
    return this.tls;
  }

  get closed(): boolean {
    return this.ended;
  }

  private fail(err: Error): void {
    this.error ??= err;
    this.finish();
  }

  private finish(): void {
    if (!this.ended) {
      this.ended = true;
      this.onEnded?.();
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    if (this.reader.pendingBytes > this.options.maxBufferedBytes) this.source.pause();
    this.wake();
  }

  private feedPipe(chunk: Buffer): void {
    const plaintext = this.pipe!.feed(chunk);
    if (plaintext) this.onData(plaintext);
  }

  /** The next line, or null when the connection ended. */
  async readLine(): Promise<LineEvent | null> {
    for (;;) {
      const event = this.reader.next();
      if (event) {
        if (this.reader.pendingBytes <= this.options.maxBufferedBytes && this.source.isPaused()) this.source.resume();
        return event;
      }
      if (this.ended) return null;
      if (this.source.isPaused()) this.source.resume();
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Writes reply text; resolves when it was handed to the socket. */
  write(text: string): Promise<void> {
    const out = this.tls ?? this.raw;
    if (this.ended || out.destroyed || !out.writable) return Promise.resolve();
    return new Promise((resolve) => {
      out.write(text, () => resolve());
    });
  }

  /**
   * Starts TLS on the connection (after the 234 reply was written, or at once for implicit FTPS).
   * Resolves when the handshake is done; rejects on failure or timeout (the caller closes). With
   * `clientCerts` the handshake asks for a client certificate (the caller reads and judges it).
   */
  async startTls(context: SecureContext, binder: SessionBinder | undefined, clientCerts?: { required: boolean }): Promise<void> {
    const pending = this.reader.takeRemainder();
    const pipe = new RecordPipe(this.raw);
    pipe.on('error', () => {});
    this.pipe = pipe;
    const tls = new TLSSocket(pipe as unknown as Socket, {
      isServer: true,
      secureContext: context,
      ...(binder ? { server: binder.controlServer() } : {}),
      // Ask for a client certificate (verified against the context's CA bundle); when required, a client
      // without one is refused by the handshake itself (alert `certificate required`).
      ...(clientCerts ? { requestCert: true, rejectUnauthorized: clientCerts.required } : {}),
    });
    this.tls = tls;
    tls.on('error', (err) => this.fail(err));
    if (pending.length > 0) this.feedPipe(pending);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error('TLS handshake timed out'));
      }, this.options.handshakeTimeoutMs);
      const onSecure = () => {
        cleanup();
        resolve();
      };
      const onFail = (err?: Error) => {
        cleanup();
        reject(err ?? new Error('connection closed during TLS handshake'));
      };
      const onClose = () => onFail();
      const cleanup = () => {
        clearTimeout(timer);
        tls.off('secure', onSecure);
        tls.off('error', onFail);
        tls.off('close', onClose);
        this.raw.off('end', onClose);
        this.raw.off('close', onClose);
      };
      tls.once('secure', onSecure);
      tls.once('error', onFail);
      tls.once('close', onClose);
      // TLS runs over the pipe, which never sees the TCP connection end: fail at once, not at the timeout.
      this.raw.once('end', onClose);
      this.raw.once('close', onClose);
      if (this.raw.destroyed || this.raw.readableEnded) onClose();
    });
    binder?.adopt(tls);
    this.source = tls;
    tls.on('data', this.onTlsData);
    tls.on('end', this.onEnd);
  }

  /**
   * CCC: writes `reply` (the 200) under TLS, then ends TLS with a close_notify exchange and goes on in
   * plaintext on the same TCP connection. Rejects if the client does not complete the exchange in time.
   *
   * The channel switches to clearing before the reply is written: a client may answer the 200 with its
   * close_notify at once, even before our write completes, and that must not read as the end of the
   * connection. Done means both close_notify alerts went their way, in either order.
   */
  async clearTls(reply: string, timeoutMs: number): Promise<void> {
    const tls = this.tls;
    const pipe = this.pipe;
    if (!tls || !pipe) return;
    pipe.clearing = true;
    tls.off('end', this.onEnd);
    tls.off('data', this.onTlsData);
    // Anything already decrypted but not yet read stays in the line reader.
    await new Promise<void>((resolve, reject) => {
      let ours = false; // our close_notify was written
      let theirs = false; // the client ended TLS
      let done = false;
      const timer = setTimeout(() => finish(new Error('CCC: no close_notify from the client')), timeoutMs);
      const finish = (err?: Error) => {
        if (done || (!err && !(ours && theirs))) return;
        done = true;
        clearTimeout(timer);
        tls.off('end', onEnd);
        tls.off('close', onClose);
        this.raw.off('data', onPlain);
        if (err) reject(err);
        else resolve();
      };
      const onEnd = () => {
        theirs = true;
        finish();
      };
      const onClose = () => finish(new Error('CCC: connection closed'));
      // Plaintext at a record boundary also ends TLS (a client that skips its close_notify).
      const onPlain = () => {
        if (this.reader.pendingBytes > 0) onEnd();
      };
      tls.on('data', (chunk: Buffer) => this.onData(chunk));
      tls.once('end', onEnd);
      tls.once('close', onClose);
      this.raw.on('data', onPlain);
      void this.write(reply).then(() =>
        tls.end(() => {
          ours = true;
          finish();
        }),
      );
    });
    this.tls = undefined;
    this.pipe = undefined;
    this.source = this.raw;
    tls.removeAllListeners('data');
    tls.on('error', () => {});
    tls.destroy();
    if (this.raw.isPaused()) this.raw.resume();
  }

  /** Ends the connection after pending replies are flushed. */
  async end(): Promise<void> {
    this.ended = true;
    const tls = this.tls;
    if (tls && !tls.destroyed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        tls.end(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      if (this.raw.destroyed) return resolve();
      const timer = setTimeout(() => {
        this.raw.destroy();
        resolve();
      }, 1000);
      this.raw.end(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.destroy();
  }

  destroy(): void {
    this.ended = true;
    this.tls?.destroy();
    this.raw.destroy();
    this.wake();
  }
}
