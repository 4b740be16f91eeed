/**
 * Reading a socket Node already made, or its TLS socket, into buffers the caller owns (Node internals,
 * feature-detected).
 *
 * Node offers `onread` (reads into one caller-owned buffer, a callback per read, no `'data'` buffers)
 * only to sockets it creates itself, and a `TLSSocket` takes it only when it makes its own socket, never
 * when it wraps one (`onread: !socket ? tlsOptions.onread : null` in Node's `_tls_wrap.js`). What `onread`
 * does is small, though: `net.Socket` keeps the buffer and the callback under two symbols (`kBuffer`,
 * `kBufferCb`), and its handle, a C++ StreamBase, gets `useUserBuffer(buffer)`; from then on the handle
 * reads into that buffer and the socket's read callback (`onStreamRead`) calls the callback instead of
 * pushing a new buffer. A `TLSWrap` (the handle of a `TLSSocket`) is a StreamBase too: with
 * `useUserBuffer`, each decrypted record (at most 16 KiB) is copied into the caller's buffer instead of
 * into a new one. And `TLSWrap.receive(bytes)` (what Node itself uses to hand TLS bytes a socket had
 * already read) gives TLS ciphertext synchronously: it copies them into TLS's input and decrypts at once.
 *
 * The symbols are found on a probe socket made with `onread` (by their descriptions, checked to hold the
 * probe's buffer and callback); the handle methods are checked on each socket. Where any of it is
 * missing nothing is changed and the caller keeps the stream path.
 */
import { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

interface StreamHandle {
  reading?: boolean;
  useUserBuffer?: (buffer: Uint8Array) => void;
  readStop?: () => number;
  receive?: (bytes: Uint8Array) => void;
}

type Internals = { _handle: StreamHandle | null } & Record<symbol, unknown>;

interface Keys {
  buffer: symbol;
  callback: symbol;
}

function findKeys(): Keys | undefined {
  try {
    const buffer = Buffer.alloc(1);
    const callback = () => true;
    const probe = new Socket({ onread: { buffer, callback } } as ConstructorParameters<typeof Socket>[0]) as unknown as Internals;
    const symbols = Object.getOwnPropertySymbols(probe);
    (probe as unknown as Socket).destroy();
    const named = (name: string) => symbols.find((s) => s.description === name);
    const keys = { buffer: named('kBuffer'), callback: named('kBufferCb') };
    if (!keys.buffer || !keys.callback || probe[keys.buffer] !== buffer || probe[keys.callback] !== callback) return undefined;
    return keys as Keys;
  } catch {
    return undefined;
  }
}

const keys = findKeys();
let enabled = keys !== undefined;

/** Whether this Node offers what this file needs (and it was not turned off). */
export function userBuffersAvailable(): boolean {
  return enabled;
}

/** For tests: `false` makes every caller take the stream path (as on a Node without these internals). */
export function setUserBuffers(on: boolean): void {
  enabled = on && keys !== undefined;
}

/**
 * Whether `socket` can be switched with `readInto`: it has a StreamBase handle that can take a user
 * buffer, reads with `'data'` buffers now, and holds no bytes it already read (`buffered`: bytes it holds
 * are allowed, for a caller that has them read first, as a TLS socket made on it does).
 */
export function canReadInto(socket: Socket, buffered = false): boolean {
  if (!enabled || !keys) return false;
  const s = socket as unknown as Internals;
  const h = s._handle;
  return (
    h !== null &&
    typeof h === 'object' &&
    typeof h.useUserBuffer === 'function' &&
    typeof h.readStop === 'function' &&
    typeof h.reading === 'boolean' &&
    s[keys.buffer] === null &&
    s[keys.callback] === null &&
    !socket.destroyed &&
    !socket.readableEnded &&
    (buffered || socket.readableLength === 0)
  );
}

/** Whether `tls` (a TLSSocket) takes ciphertext through `feedTls`. */
export function canFeedTls(tls: TLSSocket): boolean {
  const h = (tls as unknown as Internals)._handle;
  return h !== null && typeof h === 'object' && typeof h.receive === 'function';
}

/** Stops `socket`'s handle reading (`socket._read(0)` starts it again). */
export function stopReading(socket: Socket): void {
  const h = (socket as unknown as Internals)._handle;
  if (h?.reading === true && typeof h.readStop === 'function') {
    h.reading = false;
    h.readStop();
  }
}

/**
 * From now on each read of `socket` lands in `buffer` (from its start) and calls `onRead(n)` instead of
 * pushing a `'data'` buffer; `onRead` returning false stops reading until `socket._read(0)`. The end and
 * errors come as before (`'end'`, `'error'`). Call only after `canReadInto(socket)` said yes.
 */
export function readInto(socket: Socket, buffer: Buffer, onRead: (n: number) => boolean): void {
  const s = socket as unknown as Internals;
  s[keys!.buffer] = buffer;
  s[keys!.callback] = onRead;
  s._handle!.useUserBuffer!(buffer);
}

/**
 * Gives `tls` ciphertext a socket read (copied; decrypted records reach `tls`'s reader before this
 * returns). False when `tls` is gone: its handle must not be fed then (Node aborts the process when
 * TLS is fed after its state was freed).
 */
export function feedTls(tls: TLSSocket, bytes: Buffer): boolean {
  const h = (tls as unknown as Internals)._handle;
  if (tls.destroyed || h === null || typeof h.receive !== 'function') return false;
  h.receive(bytes);
  return true;
}
