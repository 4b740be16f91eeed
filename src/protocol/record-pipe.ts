/**
 * The stream a control connection's TLS runs over, so that TLS can be removed again (CCC).
 *
 * Node has no public way to stop TLS on a socket and keep the TCP connection, so the control TLSSocket
 * never owns the raw socket: it wraps this Duplex. Raw bytes are fed in with `feed()`, TLS output is
 * written to the raw socket, and ending or destroying the pipe never touches the raw socket.
 *
 * `feed()` tracks TLS record boundaries. Once `clearing` is set (after the CCC reply), a byte at a record
 * boundary that cannot start a TLS record is the first plaintext byte: it and everything after it are
 * returned to the caller instead of being given to TLS, and so is every byte fed after it.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

const RECORD_HEADER = 5;

function canStartRecord(b: number): boolean {
  return b >= 20 && b <= 23; // change_cipher_spec, alert, handshake, application_data
}

/**
 * A stream over a raw socket for a TLS socket to run on (instead of on the socket itself): what it writes
 * goes to the socket, reading resumes the socket; the subclass decides what the socket's bytes and its
 * end become. `passWriteErrors` false: a failed write is the raw socket's own error to report, not TLS's.
 */
export abstract class SocketPipe extends Duplex {
  constructor(
    protected readonly raw: Socket,
    private readonly passWriteErrors: boolean,
  ) {
    super({ allowHalfOpen: true });
  }

  override _read(): void {
    if (!this.raw.destroyed) this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.raw.destroyed || !this.raw.writable) {
      callback();
      return;
    }
    this.raw.write(chunk, (err) => callback(this.passWriteErrors ? (err ?? null) : null));
  }
}

export class RecordPipe extends SocketPipe {
  /** Set once the TLS layer is being removed: plaintext may follow the last record. */
  clearing = false;
  private remaining = 0;
  /** Header bytes of the next record seen so far, and its length field as far as read (bytes 3 and 4). */
  private headerLen = 0;
  private recordLen = 0;
  /** The first plaintext byte was seen: the TLS stream is over, every later byte is plaintext. */
  private cleared = false;

  constructor(raw: Socket) {
    super(raw, true);
  }

  /** Gives raw bytes to TLS; returns the plaintext that follows the TLS stream, if any. */
  feed(chunk: Buffer): Buffer | undefined {
    if (this.cleared) return chunk;
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        i += n;
        this.remaining -= n;
        continue;
      }
      if (this.headerLen === 0 && this.clearing && !canStartRecord(chunk[i]!)) {
        this.cleared = true;
        if (i > 0) this.deliver(chunk.subarray(0, i));
        return chunk.subarray(i);
      }
      // Only the length (big-endian, bytes 3 and 4) is kept: no per-connection header buffer.
      while (this.headerLen < RECORD_HEADER && i < chunk.length) {
        const b = chunk[i++]!;
        if (this.headerLen >= 3) this.recordLen = (this.recordLen << 8) | b;
        this.headerLen++;
      }
      if (this.headerLen === RECORD_HEADER) {
        this.remaining = this.recordLen;
        this.headerLen = 0;
        this.recordLen = 0;
      }
    }
    this.deliver(chunk);
    return undefined;
  }

  private deliver(data: Buffer): void {
    if (!this.push(data)) this.raw.pause();
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback(); // the raw socket stays open: CCC keeps the TCP connection
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(error);
  }
}
