/**
 * Client side of CCC (RFC 4217 section 6): TLS on the control connection that can be removed again.
 *
 * `RawClient.upgrade()` lets Node's TLS own the TCP socket, and ending that TLS socket also ends TCP. So
 * `authClearable()` runs the client's TLS over a duplex we own instead (raw bytes are fed into it, its
 * output is written to the socket, ending or destroying it never touches the socket). After the `200`
 * to CCC, `ccc()` sends our close_notify, waits for the server's, and then reads replies from the raw
 * socket in plaintext again: same TCP connection.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { RawClient } from './raw-client.js';

class ClearablePipe extends Duplex {
  constructor(private readonly raw: Socket) {
    super({ allowHalfOpen: true });
  }

  feed(chunk: Buffer): void {
    if (!this.push(chunk)) this.raw.pause();
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.raw.write(chunk, (err) => callback(err ?? null));
  }

  override _final(callback: () => void): void {
    callback(); // the TCP connection stays open
  }
}

interface ClearableTls {
  tls: TLSSocket;
  pipe: ClearablePipe;
  /** The raw socket's listeners while TLS runs over it. */
  listeners: { data: (chunk: Buffer) => void; end: () => void; close: () => void };
}

const states = new WeakMap<RawClient, ClearableTls>();

/** `AUTH <mechanism>` and a TLS handshake that `ccc()` can undo later. */
export async function authClearable(c: RawClient, mechanism = 'TLS'): Promise<TLSSocket> {
  await c.expectCmd(`AUTH ${mechanism}`, 234);
  const raw = c.raw;
  raw.removeAllListeners('data');
  raw.removeAllListeners('close');
  const pipe = new ClearablePipe(raw);
  pipe.on('error', () => {});
  const listeners = {
    data: (chunk: Buffer) => pipe.feed(chunk),
    end: () => pipe.push(null),
    close: () => pipe.destroy(), // so the TLS socket (and the client) see the connection go
  };
  raw.on('data', listeners.data);
  raw.on('end', listeners.end);
  raw.on('close', listeners.close);
  const tls = tlsConnect({ socket: pipe, rejectUnauthorized: false, servername: 'localhost' });
  tls.on('session', (s: Buffer) => (c.session = s));
  tls.on('error', () => {});
  await once(tls, 'secureConnect');
  c.socket = tls;
  c.attach(tls);
  states.set(c, { tls, pipe, listeners });
  return tls;
}

/**
 * CCC: expects the 200, then the close_notify exchange; afterwards commands and replies are plaintext on
 * the same TCP connection. `pipelined` is written in plaintext right behind our close_notify, before the
 * server's close_notify is awaited (as clients that do not wait for it do).
 */
export async function ccc(c: RawClient, opts: { pipelined?: string } = {}): Promise<void> {
  const state = states.get(c);
  if (!state) throw new Error('ccc() needs a client set up with authClearable()');
  const { tls, pipe, listeners } = state;
  // From here the TLS socket's end and close are the CCC exchange, not the connection closing (the
  // server's close_notify may arrive in the same read as the 200).
  tls.removeAllListeners('close');
  const ended = once(tls, 'end');
  await c.expectCmd('CCC', 200);
  tls.removeAllListeners('data');
  tls.resume();
  const sent = once(pipe, 'finish');
  tls.end(); // our close_notify
  if (opts.pipelined !== undefined) {
    await sent;
    c.raw.write(opts.pipelined);
  }
  await ended; // the server's close_notify
  c.raw.off('data', listeners.data);
  c.raw.off('end', listeners.end);
  c.raw.off('close', listeners.close);
  states.delete(c);
  c.socket = c.raw;
  c.attach(c.raw);
}
