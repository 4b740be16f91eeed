/**
 * A GetObject body for a data connection: the HTTP response arrives in chunks of 16 to 64 KiB, and piped
 * as it is, each one is a write to the data socket, and the response is paused as soon as 16 KiB wait.
 * This stage reads ahead up to `aheadBytes` from the store while the client's socket is busy and hands the
 * socket writes of `chunkBytes` (the last one smaller). Destroying it destroys the body (its connection
 * goes back or is closed), and a body error reaches it.
 */
import { pipeline, Transform, type Readable } from 'node:stream';

export function coalesced(body: Readable, chunkBytes = 256 * 1024, aheadBytes = 1024 * 1024): Readable {
  let pending: Buffer[] = [];
  let size = 0;
  const out = new Transform({
    writableHighWaterMark: aheadBytes,
    readableHighWaterMark: chunkBytes,
    transform(chunk: Buffer, _enc, cb) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= chunkBytes) {
        this.push(pending.length === 1 ? pending[0] : Buffer.concat(pending, size));
        pending = [];
        size = 0;
      }
      cb();
    },
    flush(cb) {
      if (size > 0) this.push(pending.length === 1 ? pending[0] : Buffer.concat(pending, size));
      pending = [];
      cb();
    },
  });
  return pipeline(body, out, () => {}); // errors and destroys go both ways; the error reaches `out`'s reader
}
