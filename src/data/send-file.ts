/**
 * Sending a local file (a `FileReader`) over a data connection through two reused buffers: while one
 * buffer is being written to the socket, the next chunk is read into the other. A buffer is read into
 * again only after the socket's write callback said it is done with it (for TLS: encrypted and written),
 * so the socket's own backpressure paces the reads, and at most two buffers are held per transfer.
 *
 * Why not `pipeline(fileStream, socket)`: that allocates a new buffer per chunk, and the garbage of a
 * fast download (hundreds of megabytes a second of external memory) makes V8 run a full collection
 * every few dozen megabytes. Buffers come from a small process-wide pool and go back to it only after a
 * clean end; after an abort or error they are left to the garbage collector, as the socket may still
 * hold on to them.
 *
 * The chunk whose read found the end of the file (a small file's only one) is written with `end()`: one
 * call, one callback.
 *
 * Resolves once the last byte was handed to the kernel and the socket ended (`finish`): the caller
 * replies 226 after that. Rejects when `signal` aborts (the socket is destroyed), the socket fails or
 * closes first, or a read fails.
 */
import type { Writable } from 'node:stream';
import type { FileReader } from '../storage/file-reader.js';

/**
 * Size of the pooled buffers: the largest read of a download. 1 MiB rather than 256 KiB: a quarter of the
 * reads and writes; measured (docs/performance.md, "Round 2: transfers") 0.45 against 0.77 s of CPU per
 * GiB in a bare read-and-write loop, and in ftpsd RETR plain 0.8 against 1.4 s/GiB, RETR TLS 1.2 against
 * 1.6. A download holds two (2 MiB); a small file touches only what it reads of one.
 */
export const SEND_BUFFER_BYTES = 1024 * 1024;
/** Buffers kept for reuse (the rest are left to the garbage collector): at most 4 MiB idle. */
const POOL_MAX = 4;
const pool: Buffer[] = [];

function acquire(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(SEND_BUFFER_BYTES);
}

function release(bufs: Buffer[]): void {
  for (const b of bufs) if (pool.length < POOL_MAX) pool.push(b);
}

export async function sendFile(source: FileReader, dest: Writable, signal: AbortSignal, onBytes: (n: number) => void): Promise<void> {
  signal.throwIfAborted();
  let stop!: (err: Error) => void;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => {});
  const onAbort = () => {
    stop(signal.reason as Error);
    dest.destroy();
  };
  const onError = (err: Error) => stop(err);
  const onClose = () => stop(Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  signal.addEventListener('abort', onAbort, { once: true });
  dest.on('error', onError);
  dest.on('close', onClose);
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, stopped]);
  const write = (chunk: Buffer) =>
    new Promise<void>((resolve, reject) => {
      dest.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
  // Small files need one buffer (one read finds the end); large ones alternate between two.
  const bufs: Buffer[] = [];
  let inFlight: Buffer | undefined;
  let writing: Promise<void> | undefined;
  const settle = async () => {
    if (writing) await race(writing);
    writing = undefined;
    inFlight = undefined;
  };
  let clean = false;
  try {
    let last: Buffer | undefined;
    for (;;) {
      let buf = bufs.find((b) => b !== inFlight);
      if (!buf) bufs.push((buf = acquire()));
      let n: number;
      try {
        n = await race(source.readInto(buf));
      } catch (err) {
        if (!signal.aborted) dest.destroy();
        throw err;
      }
      await settle();
      if (n === 0) break;
      onBytes(n);
      const chunk = n === buf.length ? buf : buf.subarray(0, n);
      // The read found the end (always the first read of a small file): the chunk goes with end() below,
      // one call instead of a write, its callback and another read.
      if (source.ended) {
        last = chunk;
        break;
      }
      writing = write(chunk);
      writing.catch(() => {});
      inFlight = buf;
      // Most likely the end: the next read finds nothing, or what was appended.
      if (source.remaining === 0) await settle();
    }
    await race(
      new Promise<void>((resolve, reject) => {
        const done = (err?: Error | null) => (err ? reject(err) : resolve());
        if (last) dest.end(last, done);
        else dest.end(done);
      }),
    );
    clean = true;
  } finally {
    signal.removeEventListener('abort', onAbort);
    dest.off('error', onError);
    dest.off('close', onClose);
    if (clean) release(bufs);
  }
}
