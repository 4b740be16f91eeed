/**
 * Receiving a plain binary upload through caller-owned buffers (the counterpart of send-file.ts).
 *
 * Why: a Node socket read with `'data'` events reads each chunk (at most 64 KiB) into a fresh buffer; for
 * an upload of hundreds of megabytes a second that is the largest cost of the whole transfer, most of it
 * in the kernel (fresh pages, more and smaller reads). A socket made with the `onread` option reads into
 * one buffer the caller owns instead: the reads here go into one process-wide 256 KiB buffer (the
 * callback runs synchronously for each read and copies the bytes out before the next read of any
 * socket), are gathered into 1 MiB chunks, and each full chunk goes to the upload's stream in one write.
 *
 * Node offers `onread` only for sockets it creates (`net.connect`), not for accepted ones: `adopt()`
 * moves a socket's handle, before anything read from it, to a new `net.Socket` made with `onread` (the
 * old socket, without its handle, is destroyed and only leaves the server's connection count). Passive
 * data sockets are accepted paused (`pauseOnConnect`); active ones are connected paused for uploads.
 * A socket that already read something is left as it is (the stream path in transfer.ts takes it).
 *
 * A chunk that is not full is written anyway `FLUSH_MS` after its first byte came, so a slow client's
 * data reaches the storage (and the quota sees it) as it comes, not a megabyte at a time.
 *
 * Memory is bounded: at most `IN_FLIGHT` chunks are being written while one is filled; when that many are
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
import type { Upload } from '../storage/storage.js';

/** Size of the shared read buffer: the largest single socket read. */
export const READ_BUFFER_BYTES = 256 * 1024;
/** Size of a chunk written to the upload: the largest single write. */
export const CHUNK_BYTES = 1024 * 1024;
/** Chunks being written at once (the socket pauses beyond). */
const IN_FLIGHT = 2;
/** A chunk that has bytes is written after this long even if not full (a slow client's data reaches the storage). */
const FLUSH_MS = 20;
/** Chunks kept for reuse (the rest are left to the garbage collector). */
const POOL_MAX = 4;

const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
const pool: Buffer[] = [];

/** What `adopt` needs of a socket's internals (Node has kept these names since its first versions). */
interface SocketInternals {
  _handle: { reading?: boolean } | null;
}

export class Receiver {
  readonly socket: Socket;
  private sink: ((n: number) => boolean) | undefined;

  private constructor(handle: object) {
    this.socket = new Socket({
      handle,
      allowHalfOpen: true,
      // Do not start reading before receive() is called (an internal option of net.Socket).
      manualStart: true,
      onread: { buffer: readBuffer, callback: (n: number) => this.sink?.(n) ?? false },
    } as ConstructorParameters<typeof Socket>[0]);
  }

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
    return new Receiver(handle);
  }

  /** Receives the whole upload into `upload.stream` and ends it (see above). */
  receive(upload: Upload, signal: AbortSignal, onBytes: (n: number) => void): Promise<void> {
    const { socket } = this;
    const stream = upload.stream;
    const reuse = upload.releasesWrittenChunks === true;
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
        stream.off('error', onError);
      };
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onAbort = () => fail(signal.reason as Error);
      const onError = (err: Error) => fail(err);
      const onClose = () => fail(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      const written = (buf: Buffer) => (err?: Error | null) => {
        inFlight--;
        if (err) return fail(err);
        if (reuse && pool.length < POOL_MAX && buf.length === CHUNK_BYTES) pool.push(buf);
        if (paused && !settled) {
          paused = false;
          socket._read(0); // starts reading again (the handle stopped when the callback returned false)
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
      this.sink = (n) => {
        if (settled) return false;
        onBytes(n);
        let off = 0;
        while (off < n) {
          chunk ??= (reuse ? pool.pop() : undefined) ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
          const copied = readBuffer.copy(chunk, filled, off, n);
          filled += copied;
          off += copied;
          if (filled === chunk.length) flush();
        }
        if (filled > 0 && timer === undefined) timer = setTimeout(flushLate, FLUSH_MS);
        if (inFlight < IN_FLIGHT) return true;
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
      stream.on('error', onError);
      socket._read(0);
    });
  }
}
