/**
 * TYPE A line-ending conversion (RFC 959 3.1.1.1): on the wire every line ends in CRLF.
 * Downloads turn bare LF into CRLF; uploads turn CRLF into LF. Both keep state across chunk boundaries.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const NETWORK_TEXT = Symbol('ftpsd.networkText');

/**
 * Marks a stream whose lines already end in CRLF and hold no bare CR or LF (listings: names are made
 * safe), so TYPE A sends it as it is instead of scanning every byte.
 */
export function markNetworkText<T extends object>(stream: T): T {
  Object.defineProperty(stream, NETWORK_TEXT, { value: true });
  return stream;
}

export function isNetworkText(stream: object): boolean {
  return (stream as { [NETWORK_TEXT]?: boolean })[NETWORK_TEXT] === true;
}

const LF = 0x0a;

/** LF -> CRLF (an LF already preceded by CR is left alone). */
export function toNetworkAscii(): Transform {
  let lastWasCR = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      let extra = 0;
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] === LF && !(i === 0 ? lastWasCR : chunk[i - 1] === CR)) extra++;
      }
      if (extra === 0) {
        lastWasCR = chunk.length > 0 ? chunk[chunk.length - 1] === CR : lastWasCR;
        cb(null, chunk);
        return;
      }
      const out = Buffer.allocUnsafe(chunk.length + extra);
      let o = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === LF && !(i === 0 ? lastWasCR : chunk[i - 1] === CR)) out[o++] = CR;
        out[o++] = b;
      }
      lastWasCR = chunk[chunk.length - 1] === CR;
      cb(null, out);
    },
  });
}

/** CRLF -> LF. A CR at the end of a chunk is held back until the next byte shows what it is. */
export function fromNetworkAscii(): Transform {
  let heldCR = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (chunk.length === 0) {
        cb(); // an empty chunk says nothing about a held CR
        return;
      }
      const out = Buffer.allocUnsafe(chunk.length + 1);
      let o = 0;
      let i = 0;
      if (heldCR) {
        heldCR = false;
        if (chunk[0] !== LF) out[o++] = CR;
      }
      for (; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (b === CR) {
          if (i === chunk.length - 1) {
            heldCR = true;
            continue;
          }
          if (chunk[i + 1] === LF) continue;
        }
        out[o++] = b;
      }
      cb(null, out.subarray(0, o));
    },
    flush(cb: TransformCallback) {
      cb(null, heldCR ? Buffer.from([CR]) : undefined);
    },
  });
}
