/**
 * How the client ended an upload's data connection: with a FIN, with a reset (RST), and under TLS with or
 * without close_notify. In stream mode the end of the connection is the end of the file (RFC 959), so
 * this is what decides whether an upload is complete (226, committed) or cut (426, aborted).
 *
 * **Resets Node hides.** On Linux, libuv reads a socket when epoll reports it; once an RST has arrived,
 * epoll reports EPOLLHUP as well. If that wakeup's last read() returns fewer bytes than asked (the receive
 * queue is now empty), libuv takes the EPOLLHUP as the end of the stream and reports UV_EOF without the
 * one more read() that would have returned ECONNRESET. So a reader that keeps up (it drains what is
 * queued in the wakeup after the RST arrived) gets `'end'`, exactly as for a FIN; a reader that is
 * paused (backpressure: a slow disk) or that finds the queue already empty gets `'error'` ECONNRESET.
 * Measured with Node 20 on Linux: 2 MB sent and then reset, the fast reader saw `'end'` 30 times out of
 * 30 (with only the first 0.1-0.6 MB), the paused one `'error'` 30 times out of 30.
 *
 * The reset is not lost, though: the kernel keeps it as the socket's pending error, and the connection is
 * closed in both directions, where a FIN leaves it half-open (CLOSE_WAIT). A write after the end tells
 * them apart: after a FIN it succeeds, after an RST it fails (ECONNRESET, then EPIPE). A zero-length write
 * puts nothing on the wire, so `probeReset()` is that write. It needs a socket that stays writable after
 * the peer's FIN (`allowHalfOpen: true`, as the passive and active data sockets are): otherwise Node ends
 * our side at the `'end'` event and every later write fails.
 *
 * **close_notify.** A TLS socket made directly on a TCP socket reports the end of TLS (close_notify) and
 * a bare TCP FIN alike, as `'end'`: Node's TLS layer passes the TCP end on as its own and never tells
 * OpenSSL (measured: FIN alone, close_notify + FIN, even close_notify + RST all end with `'end'` for a
 * fast reader). So an upload's TLS runs over a `TcpPipe`, as the control connection's runs over a
 * RecordPipe: the pipe gives TLS the raw bytes but never the TCP end. TLS then ends only on a
 * close_notify, and the pipe sees the TCP end itself: when TLS has read every byte and has not ended,
 * the client closed without close_notify (or reset).
 *
 * An early handshake (early-tls.ts), whose direction is not known yet, runs on Node's native TLS socket
 * (a download over the pipe pays a copy of all TLS output). If it carries an upload, `watchUploadEnd`
 * gets the same effect without the pipe: the TCP socket's reads land in our buffer and we hand them to
 * TLS, so the TCP socket, not TLS, sees the TCP end (details and limits at `watchUploadEnd`).
 */
import { Socket } from 'node:net';
import { TLSSocket, type TLSSocketOptions } from 'node:tls';
import { SocketPipe } from '../protocol/record-pipe.js';
import { canReadInto, feedTls, readInto, stopReading } from './user-buffer.js';

/** Why an upload's data connection did not end cleanly. */
export type DataEndFailure = 'reset' | 'no-close-notify';

/** The data connection ended in a way that does not complete an upload. */
export class DataEndError extends Error {
  constructor(readonly reason: DataEndFailure) {
    super(reason === 'reset' ? 'data connection reset' : 'data connection closed without TLS close_notify');
    this.name = 'DataEndError';
  }
}

/**
 * Whether `socket`, whose peer ended the stream, was reset rather than closed with a FIN: a zero-length
 * write fails after a reset (see above). A destroyed socket counts as reset (nothing tells it was not);
 * one whose writing side we ended ourselves cannot be asked and counts as closed.
 */
export function probeReset(socket: Socket): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true);
  if (!socket.writable) return Promise.resolve(false);
  return new Promise((resolve) => {
    socket.write(Buffer.alloc(0), (err) => resolve(err !== undefined && err !== null));
  });
}

/**
 * How the TCP stream of a plain data connection ended, once it did: `'fin'`, or `'reset'` (an RST Node
 * reported as an error, or one it reported as the end, found by `probeReset`). Rejects never.
 */
export function tcpEnd(socket: Socket): Promise<'fin' | 'reset'> {
  return new Promise((resolve) => {
    const done = (how: 'fin' | 'reset') => {
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onError);
      resolve(how);
    };
    const onEnd = () => {
      socket.off('error', onError);
      socket.off('close', onError);
      void probeReset(socket).then((reset) => done(reset ? 'reset' : 'fin'));
    };
    const onError = () => done('reset');
    socket.once('end', onEnd);
    socket.once('error', onError);
    socket.once('close', onError);
  });
}

/** A server TLS socket that knows whether its stream ended (Node pushes `null` when TLS sees the end). */
class EndAwareTls extends TLSSocket {
  sawEnd = false;
  /** How this socket's ciphertext reaches it (set by uploadTls, or watchUploadEnd). */
  transport: UploadTransport | undefined;
  /** Called once when the stream ends (native wrapping: the TCP stream is read on for its end). */
  onEnd: (() => void) | undefined;
  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null && !this.sawEnd) {
      this.sawEnd = true;
      this.onEnd?.();
    }
    return super.push(chunk, encoding);
  }
}

export interface UploadTlsOptions extends TLSSocketOptions {
  /** false: a TCP FIN without close_notify ends the upload too (a reset never does). */
  requireCloseNotify: boolean;
}

/**
 * Server TLS for an upload's data connection, over a `TcpPipe` on `raw`: the TLS socket ends only when
 * the client's data really ended, and is destroyed with a `DataEndError` when it did not:
 *
 * - close_notify: TLS ends (a FIN or an RST after it changes nothing: the data was complete);
 * - a FIN without close_notify: `DataEndError('no-close-notify')`, or with `requireCloseNotify: false`
 *   TLS is ended as if close_notify had come (after checking that the FIN was not a hidden reset);
 * - a reset before close_notify: `DataEndError('reset')`.
 *
 * (An early handshake's TLS socket gets the same ends on Node's native TLS socket: `nativeTls` and
 * `watchUploadEnd` below.) Destroying the TLS socket destroys the pipe and `raw`; ending it sends
 * close_notify, then a FIN.
 */
export function uploadTls(raw: Socket, options: UploadTlsOptions): TLSSocket {
  const { requireCloseNotify, ...tlsOptions } = options;
  const pipe = new TcpPipe(raw);
  pipe.on('error', () => {});
  const tls = new EndAwareTls(pipe as unknown as Socket, tlsOptions);
  tls.transport = pipeTransport(tls, raw, pipe);
  // After TLS's own 'data' listener (added by the TLS socket just made): runs once TLS processed a chunk.
  pipe.on('data', () => pipe.report());
  pipe.onTcpEnd = endHandler(tls, raw, requireCloseNotify, () => pipe.endTls());
  return tls;
}

/**
 * Whether `raw` can carry a `nativeTls` socket whose upload ends `watchUploadEnd` can watch: Node's
 * internals are there (user-buffer.ts) and `raw` reads with `'data'` buffers (bytes it holds, such as a
 * ClientHello put back, are fine: the TLS socket reads them first).
 */
export function nativeTlsPossible(raw: Socket): boolean {
  return canReadInto(raw, true) && !raw.connecting;
}

/**
 * Server TLS directly on `raw`, Node's native TLS socket, as for a download; `watchUploadEnd` makes it
 * an upload's, once the transfer turns out to be one (early handshakes, early-tls.ts). Only where
 * `nativeTlsPossible(raw)`.
 */
export function nativeTls(raw: Socket, options: TLSSocketOptions): TLSSocket {
  return new EndAwareTls(raw, options);
}

/**
 * Makes `tls` (from `nativeTls`) end as `uploadTls`'s do: only on close_notify (or, relaxed, a FIN that
 * was not a reset), else destroyed with a `DataEndError`. Call before the client may send the upload
 * (before the 150). The reads of `raw` are taken away from TLS: a user buffer pushed on the TCP handle
 * (above TLS's own listener) gets them, and `raw`'s read callback hands them to TLS (`feedTls`), so
 * `raw` sees the TCP end (`'end'`, `'error'`) and TLS never does. TLS's own backpressure still stops
 * the reads (it stops the TCP handle). That listener also gets the completions of TLS's writes to the
 * TCP socket that did not complete at once, and does not pass them on: a download on such a socket
 * stalls (measured, see docs/performance.md); an upload's writes (its handshake, tickets, close_notify)
 * are small and go at once. So downloads never get it.
 *
 * When TLS already ended (the client ended before the 150: a FIN or a close_notify, which TLS cannot
 * tell apart then), strict mode fails it with `no-close-notify`. False when `tls` is not a `nativeTls`
 * socket or its connection is gone (nothing changed).
 */
export function watchUploadEnd(tls: TLSSocket, requireCloseNotify: boolean): boolean {
  if (!(tls instanceof EndAwareTls) || tls.transport !== undefined || tls.destroyed) return false;
  const raw = (tls as unknown as { _parent?: unknown })._parent;
  if (!(raw instanceof Socket) || raw.destroyed || !canReadInto(raw, true)) return false;
  if (tls.sawEnd) {
    if (requireCloseNotify) tls.destroy(new DataEndError('no-close-notify'));
    return true;
  }
  let more: (() => boolean) | undefined;
  let tcp: 'fin' | 'reset' | undefined;
  const settle = endHandler(tls, raw, requireCloseNotify, () => {
    tls.push(null);
    tls.read(0);
  });
  const ended = (how: 'fin' | 'reset') => {
    // A FIN is settled once; an error or close after it (the probe's write failed: a reset) settles
    // again, as a reset: Node's own listener then destroys TLS without saying why.
    if (tcp === how || tcp === 'reset') return;
    tcp = how;
    settle(how);
  };
  // Before the TLS socket's own listeners, which destroy it without saying why.
  raw.prependOnceListener('error', () => ended('reset'));
  raw.prependOnceListener('close', () => ended('reset'));
  raw.once('end', () => ended('fin'));
  // Once TLS ended (close_notify), the TCP stream is read on to its end (TLS no longer asks for reads).
  tls.onEnd = () =>
    process.nextTick(() => {
      if (tcp === undefined && !raw.destroyed && !tls.destroyed) raw._read(0);
    });
  cipherBuffer ??= Buffer.allocUnsafeSlow(CIPHER_BYTES);
  const buffer = cipherBuffer;
  // Bytes `raw` still holds (a ClientHello put back, if TLS has not started reading yet) are handed to
  // TLS by Node before any read that lands here.
  readInto(raw, buffer, (n) => {
    if (tls.sawEnd) return true; // after close_notify: dropped, read on to the TCP end
    if (!feedTls(tls, buffer.subarray(0, n))) return false;
    return more ? more() : true; // else TLS's own backpressure stops the reads (TLSWrap.readStop)
  });
  tls.transport = {
    raw,
    ownReads: false,
    // Once TLS ended (close_notify) it holds all the data: the TCP end no longer matters.
    ready: () => tls.sawEnd || (tcp === undefined && !raw.destroyed),
    take: (onFed) => {
      if (!tls.sawEnd && (tcp !== undefined || raw.destroyed)) return false;
      stopReading(raw);
      more = onFed;
      return true;
    },
  };
  return true;
}

/** Ciphertext reads of upload TLS connections (one at a time: each is handed to TLS before the next). */
let cipherBuffer: Buffer | undefined;
const CIPHER_BYTES = 256 * 1024;

/**
 * What to do when the TCP stream under `tls` ended (`how`), TLS having been given every byte before it:
 * nothing after a close_notify, else fail `tls` or (relaxed mode, a FIN) end it with `endTls`.
 */
function endHandler(tls: EndAwareTls, raw: Socket, requireCloseNotify: boolean, endTls: () => void): (how: 'fin' | 'reset') => void {
  let passedEnd = false; // we ended TLS ourselves (relaxed mode): not a close_notify
  const closeNotify = () => tls.sawEnd && !passedEnd;
  const fail = (reason: DataEndFailure) => {
    // Once TLS ended (close_notify, or a FIN let through) the verdict is given.
    if (!tls.sawEnd && !tls.destroyed) tls.destroy(new DataEndError(reason));
  };
  return (how) => {
    if (closeNotify()) return; // TLS ended first: its reader gets the end once it has the data
    if (how === 'reset') return fail('reset');
    void probeReset(raw).then((reset) => {
      if (reset) fail('reset');
      else if (requireCloseNotify) fail('no-close-notify');
      else if (!tls.destroyed && !tls.sawEnd) {
        passedEnd = true;
        endTls();
      }
    });
  };
}

/**
 * The TCP socket under an upload's TLS socket (`uploadTls`, or `watchUploadEnd` done), for a reader that has TLS given the
 * socket's bytes itself (receive-file.ts). `ready()`: whether `take` may succeed (nothing changed yet).
 * `take(more)`: from now on each read of `raw` is handed to TLS and then `more()` is asked whether to
 * read on (false: reading stops until `raw._read(0)`); reading is stopped when it returns. It says false
 * (nothing changed) when bytes wait that TLS has not read or the TCP stream already ended. The TCP end
 * (`'end'`, `'error'`, `'close'` of `raw`) is still watched as before. `ownReads`: TLS must be kept
 * reading by the taker (`tls._read(0)`; the pipe wrapping), else TLS must not be asked to read.
 */
export interface UploadTransport {
  raw: Socket;
  ownReads: boolean;
  ready(): boolean;
  take(more: () => boolean): boolean;
}

export function uploadTransport(tls: TLSSocket): UploadTransport | undefined {
  return tls instanceof EndAwareTls ? tls.transport : undefined;
}

function pipeTransport(tls: TLSSocket, raw: Socket, pipe: TcpPipe): UploadTransport {
  return {
    raw,
    ownReads: true,
    ready: () => canReadInto(raw) && !raw.connecting,
    take: (more) => {
      if (!canReadInto(raw) || raw.connecting || !pipe.hold()) return false;
      cipherBuffer ??= Buffer.allocUnsafeSlow(CIPHER_BYTES);
      const buffer = cipherBuffer;
      stopReading(raw);
      readInto(raw, buffer, (n) => (feedTls(tls, buffer.subarray(0, n)) ? more() : false));
      return true;
    },
  };
}

/**
 * The stream an upload's TLS reads: the raw socket's bytes, never its end. `onTcpEnd` is called once,
 * when the TCP stream ended (`'fin'`: Node reported the end; `'reset'`: an error) and TLS has been given
 * every byte before it (TLS processes what it is given at once, so by then it has seen a close_notify if
 * one came). A raw socket closed before either (destroyed) counts as a reset.
 */
class TcpPipe extends SocketPipe {
  onTcpEnd: ((how: 'fin' | 'reset') => void) | undefined;
  private tcp: 'fin' | 'reset' | undefined;
  private reported = false;
  /** Someone else reads the raw socket and gives TLS its bytes (takeUploadTransport). */
  private held = false;

  constructor(raw: Socket) {
    // A failed write (our close_notify after the client's, say) is not TLS's error: the TCP end decides.
    super(raw, false);
    raw.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) raw.pause();
    });
    raw.once('end', () => this.tcpEnded('fin'));
    raw.once('error', () => this.tcpEnded('reset'));
    raw.once('close', () => this.tcpEnded('reset'));
  }

  private tcpEnded(how: 'fin' | 'reset'): void {
    this.tcp ??= how;
    this.report();
  }

  /** Calls `onTcpEnd` if the TCP stream ended and TLS has every byte (call after TLS read a chunk). */
  report(): void {
    if (this.tcp === undefined || this.reported || this.readableLength > 0) return;
    this.reported = true;
    this.onTcpEnd?.(this.tcp);
  }

  override _read(): void {
    if (!this.held) super._read();
  }

  /** Stops reading the raw socket for TLS, if nothing is waiting in the pipe and the TCP stream is open. */
  hold(): boolean {
    if (this.held) return false;
    if (this.readableLength > 0 || this.tcp !== undefined || this.raw.destroyed) return false;
    this.held = true;
    return true;
  }

  /** Passes the end of the stream to TLS (relaxed mode: a FIN ends the upload). */
  endTls(): void {
    this.push(null);
  }

  override _final(callback: (error?: Error | null) => void): void {
    // TLS ended (its close_notify is written): the FIN follows.
    if (this.raw.destroyed || !this.raw.writable) callback();
    else this.raw.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.raw.destroy();
    callback(error);
  }
}
