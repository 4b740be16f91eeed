/**
 * Receiving a plain binary upload through caller-owned buffers (the counterpart of send-file.ts).
 *
 * Why: a Node socket read with `'data'` events reads each chunk (at most 64 KiB) into a fresh buffer; for
 * an upload of hundreds of megabytes a second that is the largest cost of the whole transfer, most of it
 * in the kernel (fresh pages, more and smaller reads). A socket made with the `onread` option reads into
 * one buffer the caller owns instead: the reads here go into one process-wide 256 KiB buffer (the
 * callback runs synchronously for each read and copies the bytes out before the next read of any
 * socket), are gathered into chunks (see `Sizing`), and each full chunk goes to the upload's stream in one write.
 *
 * Node offers `onread` only for sockets it creates (`net.connect`), not for accepted ones: `adopt()`
 * moves a socket's handle, before anything read from it, to a new `net.Socket` made with `onread` (the
 * old socket, without its handle, is destroyed and only leaves the server's connection count). Passive
 * data sockets are accepted paused (`pauseOnConnect`); active ones are connected paused for uploads.
 * A socket that already read something is left as it is (the stream path in transfer.ts takes it).
 *
 * Protected uploads (PROT P) get the same (`adoptTls`), through Node internals that user-buffer.ts finds
 * and checks: the TCP socket under the upload's TLS (data-end.ts runs it over a pipe, or, after an
 * early handshake, has already taken its reads away from Node's TLS socket; either way only a
 * close_notify ends it) reads into a process-wide 256 KiB buffer of data-end.ts (`UploadTransport.take`),
 * each read is handed to TLS at once (`feedTls`: copied into TLS and decrypted before the call returns),
 * and TLS copies each decrypted record (at most 16 KiB) into a 16 KiB one, from which it goes into the
 * chunks as above. No buffer is made per read or per record, and no stream event is emitted per record.
 * data-end.ts keeps watching the TCP end, so FIN, reset and close_notify mean what they did. Backpressure acts on the TCP
 * socket: when the writes are behind it stops reading; the records TLS decrypts from the read being
 * handed over still come (at most 256 KiB more).
 *
 * A chunk that is not full is written anyway `FLUSH_MS` after its first byte came, so a slow client's
 * data reaches the storage (and the quota sees it) as it comes, not a megabyte at a time.
 *
 * Memory is bounded: at most `Sizing.inFlight` chunks are being written while one is filled; when that many are
 * in flight the socket stops reading (the callback returns false), so TCP slows the client, and reads
 * start again when a write's callback comes. Chunks come from a small process-wide pool when the upload
 * says it is done with a chunk once that chunk's write callback ran (`Upload.releasesWrittenChunks`:
 * LocalStorage, and S3, which copies each chunk into its part); for other backends (memory, wrappers that
 * hold chunks longer, such as the quota's) every chunk is a new buffer, left to them.
 *
 * The end is the socket's: its `'end'` (FIN, or a reset Node reports as the end, which transfer.ts tells
 * apart with `tcpEnd`) flushes the last chunk and ends the upload's stream; `receive()` resolves once the
 * stream finished. It rejects when the socket fails or closes first, the stream fails, or `signal` aborts
 * (ABOR, stall, session gone); the socket is destroyed then.
 */
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Upload } from '../storage/storage.js';
import { uploadTransport } from './data-end.js';
import { canFeedTls, canReadInto, readInto } from './user-buffer.js';

/** Size of the shared read buffer: the largest single socket read. */
export const READ_BUFFER_BYTES = 256 * 1024;
/**
 * How an upload's bytes are gathered: the size of a chunk (the largest single write to the upload) and
 * how many chunks are being written at once (the socket pauses beyond). Plain uploads write 128 KiB
 * chunks, eight at once: a chunk is written while what the kernel copied into it is still in the CPU's
 * cache, and the kernel's copy into the page cache was most of a plain upload's CPU with 1 MiB chunks
 * (A/B in docs/performance.md: about half the server CPU per GiB). Protected uploads keep 1 MiB chunks,
 * two at once: there TLS's decryption is the cost and smaller writes measured slower.
 */
interface Sizing {
  chunkBytes: number;
  inFlight: number;
  /** Chunks of this size kept for reuse (the rest are left to the garbage collector). */
  pool: Buffer[];
}
const PLAIN: Sizing = { chunkBytes: 128 * 1024, inFlight: 8, pool: [] };
const PROTECTED: Sizing = { chunkBytes: 1024 * 1024, inFlight: 2, pool: [] };
/** The largest chunk: what a single write to an upload can be. */
export const CHUNK_BYTES = PROTECTED.chunkBytes;
/** A chunk that has bytes is written after this long even if not full (a slow client's data reaches the storage). */
const FLUSH_MS = 20;
/** After the data side failed, how long the writes of the bytes that came are waited for. */
const WRITE_WAIT_MS = 10_000;
/** A TLS record's largest plaintext. */
const RECORD_BYTES = 16 * 1024;

const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
/** The plaintext TLS gives back to protected uploads (made on first use). */
let recordBuffer: Buffer | undefined;

/** What `adopt` needs of a socket's internals (Node has kept these names since its first versions). */
interface SocketInternals {
  _handle: { reading?: boolean } | null;
}

/** What `receive()` gives the read callbacks while it runs. */
interface Sink {
  /** Takes `n` bytes from the start of `buf` (copied before it returns). */
  take(buf: Buffer, n: number): void;
  /** Whether reading may go on (false: the writes are behind; reading starts again when one is done). */
  more(): boolean;
}

export class Receiver {
  private sink: Sink | undefined;
  /** Bytes a TLS socket had decrypted before it was adopted (copies), received first. */
  private readonly early: Buffer[] = [];

  private constructor(
    /** The socket whose end (`'end'`) is the end of the upload and whose failure fails it. */
    readonly socket: Socket,
    /** Starts reading again (after `more()` said false). */
    private readonly resumeReads: () => void,
    private readonly sizing: Sizing,
  ) {}

  /**
   * A `Receiver` on `socket`'s connection, or undefined if `socket` already read (or started reading):
   * then `socket` is untouched. On success `socket` is destroyed without closing the connection, which
   * the receiver's own `socket` now owns.
   */
  static adopt(socket: Socket): Receiver | undefined {
    const internals = socket as unknown as SocketInternals;
    const handle = internals._handle;
    if (!handle || handle.reading === true || socket.destroyed || socket.connecting || socket.readableLength > 0) return undefined;
    internals._handle = null;
    socket.destroy();
    let receiver: Receiver | undefined = undefined;
    const own = new Socket({
      handle,
      allowHalfOpen: true,
      // Do not start reading before receive() is called (an internal option of net.Socket).
      manualStart: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number) => {
          const sink = receiver?.sink;
          if (!sink) return false;
          sink.take(readBuffer, n);
          return sink.more();
        },
      },
    } as ConstructorParameters<typeof Socket>[0]);
    receiver = new Receiver(own, () => own._read(0), PLAIN);
    return receiver;
  }

  /**
   * A `Receiver` on an upload's TLS socket (made by data-end.ts's `uploadTls`, its handshake done), or
   * undefined, nothing changed, when this Node does not offer the internals (user-buffer.ts) or the
   * connection's state does not allow it (bytes waiting in the pipe or the socket, the TCP stream ended):
   * the stream path takes it then. Plaintext TLS already decrypted is kept and received first.
   */
  static adoptTls(tls: TLSSocket): Receiver | undefined {
    const transport = uploadTransport(tls);
    if (!transport || tls.destroyed || tls.readableEnded || !canFeedTls(tls) || !transport.ready()) return undefined;
    const { raw } = transport;
    // What TLS decrypted before (bytes sent with the handshake's last flight) is in its stream buffer.
    const early: Buffer[] = [];
    if (tls.readableLength > 0) {
      for (let c = tls.read() as Buffer | null; c !== null; c = tls.read() as Buffer | null) early.push(c);
    }
    let receiver: Receiver | undefined;
    // Reads stop until receive() starts them (nothing may be read before there is a sink to take it).
    if (!canReadInto(tls) || !transport.take(() => receiver?.sink?.more() ?? false)) {
      if (early.length > 0) tls.unshift(early.length === 1 ? early[0]! : Buffer.concat(early));
      return undefined;
    }
    recordBuffer ??= Buffer.allocUnsafeSlow(RECORD_BYTES);
    const records = recordBuffer;
    receiver = new Receiver(
      tls,
      () => {
        if (!raw.destroyed) raw._read(0);
      },
      PROTECTED,
    );
    receiver.early.push(...early);
    const r = receiver;
    readInto(tls, records, (n) => {
      const sink = r.sink;
      // Records only come from the reads above, which stop while there is no sink; kept just in case.
      if (sink) sink.take(records, n);
      else r.early.push(Buffer.from(records.subarray(0, n)));
      return true;
    });
    // Over the pipe, TLS itself keeps reading: it is only ever given what the socket above reads.
    if (transport.ownReads && !(tls as unknown as SocketInternals)._handle?.reading) tls._read(0);
    return receiver;
  }

  /** Receives the whole upload into `upload.stream` and ends it (see above). */
  receive(upload: Upload, signal: AbortSignal, onBytes: (n: number) => void): Promise<void> {
    const { socket } = this;
    const stream = upload.stream;
    const reuse = upload.releasesWrittenChunks === true;
    const { chunkBytes, inFlight: maxInFlight, pool } = this.sizing;
    const poolMax = 2 * maxInFlight;
    return new Promise<void>((resolve, reject) => {
      let chunk: Buffer | undefined;
      let filled = 0;
      let inFlight = 0;
      let paused = false;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        this.sink = undefined;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        socket.off('end', onEnd);
        socket.off('error', onError);
        socket.off('close', onClose);
        stream.off('error', onStorageError);
      };
      let failed: Error | undefined;
      let waitTimer: NodeJS.Timeout | undefined;
      const rejectNow = () => {
        if (!failed) return;
        clearTimeout(waitTimer);
        reject(failed);
        failed = undefined;
      };
      // The data side failed (reset, no close_notify, ABOR, stall): the bytes that came are still written
      // (an upload kept partial, or APPE and REST + STOR, keeps them), and the failure is reported once
      // the writes are done (at most WRITE_WAIT_MS later).
      const fail = (err: Error, storage = false) => {
        if (settled) return;
        settled = true;
        cleanup();
        socket.destroy();
        failed = err;
        if (!storage && filled > 0 && stream.writable && !stream.destroyed) flush();
        if (storage || inFlight === 0) return rejectNow();
        stream.once('error', rejectNow);
        waitTimer = setTimeout(rejectNow, WRITE_WAIT_MS);
      };
      const onAbort = () => fail(signal.reason as Error);
      const onError = (err: Error) => fail(err);
      const onStorageError = (err: Error) => fail(err, true);
      // A socket destroyed with an error may close before that error is emitted (a TLS socket whose TCP
      // socket is already gone closes at once): the error is what it failed with.
      const onClose = () => fail(socket.errored ?? Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      const written = (buf: Buffer) => (err?: Error | null) => {
        inFlight--;
        if (err) {
          fail(err, true);
          return rejectNow();
        }
        if (failed && inFlight === 0) return rejectNow();
        if (reuse && pool.length < poolMax && buf.length === chunkBytes) pool.push(buf);
        if (paused && !settled) {
          paused = false;
          this.resumeReads(); // the handle stopped when a read callback returned false
        }
      };
      const flush = () => {
        clearTimeout(timer);
        timer = undefined;
        const buf = chunk!;
        const n = filled;
        chunk = undefined;
        filled = 0;
        inFlight++;
        stream.write(n === buf.length ? buf : buf.subarray(0, n), written(buf));
      };
      const take = (from: Buffer, n: number) => {
        if (settled) return;
        onBytes(n);
        let off = 0;
        while (off < n) {
          chunk ??= (reuse ? pool.pop() : undefined) ?? Buffer.allocUnsafeSlow(chunkBytes);
          const copied = from.copy(chunk, filled, off, n);
          filled += copied;
          off += copied;
          if (filled === chunk.length) flush();
        }
        if (filled > 0 && timer === undefined) timer = setTimeout(flushLate, FLUSH_MS);
      };
      const more = () => {
        if (settled) return false;
        if (inFlight < maxInFlight) return true;
        paused = true;
        return false;
      };
      const flushLate = () => {
        timer = undefined;
        if (!settled && filled > 0) flush();
      };
      const onEnd = () => {
        if (settled) return;
        socket.off('close', onClose);
        socket.off('error', onError);
        if (filled > 0) flush();
        stream.end(() => {
          if (settled) return;
          settled = true;
          cleanup();
          resolve();
        });
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('end', onEnd);
      socket.once('error', onError);
      socket.once('close', onClose);
      stream.on('error', onStorageError);
      this.sink = { take, more };
      for (const early of this.early.splice(0)) take(early, early.length);
      if (more()) this.resumeReads();
    });
  }
}
