/**
 * Helpers for the hardening tests: raw connections from chosen loopback addresses (Linux routes all of
 * 127/8 to lo, so each test can use its own source address and one test's ban cannot touch another),
 * and polling without tight timing.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { RawClient } from '../helpers/raw-client.js';

/** What a banned address gets at accept, before TLS or a greeting. */
export const BANNED = '421 Too many failed logins from your address; try again later.\r\n';

export interface Received {
  /** Every byte the server sent, as text. */
  text: string;
  /** The server closed the connection before the deadline. */
  closed: boolean;
}

/**
 * Connects from `localAddress` and collects what the server sends until it closes the connection (or
 * `timeoutMs` passes). Sends nothing unless `send` is given.
 */
export async function receiveAll(port: number, localAddress: string, opts: { host?: string; timeoutMs?: number; send?: string } = {}): Promise<Received> {
  const socket = connect({ port, host: opts.host ?? '127.0.0.1', localAddress });
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  if (opts.send !== undefined) socket.write(opts.send);
  const closed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), opts.timeoutMs ?? 10_000);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('utf8'), closed };
}

/** A RawClient from `localAddress` (greeting read). */
export function clientFrom(port: number, localAddress: string, host = '127.0.0.1'): Promise<RawClient> {
  return RawClient.connect(port, host, { localAddress });
}

/** Polls `check` until it returns true (every `everyMs`, up to `timeoutMs`); returns the last result. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000, everyMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** Whether a new connection from `localAddress` gets the 220 greeting. */
export async function greeted(port: number, localAddress: string, host = '127.0.0.1'): Promise<boolean> {
  const r = await receiveUntil(port, localAddress, /\r\n/, host);
  return r.startsWith('220 ');
}

/** Connects, reads until `until` matches (or the connection closes), and disconnects. */
export async function receiveUntil(port: number, localAddress: string, until: RegExp, host = '127.0.0.1'): Promise<string> {
  const socket: Socket = connect({ port, host, localAddress });
  socket.on('error', () => {});
  let text = '';
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    socket.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      if (until.test(text)) done();
    });
    socket.once('close', done);
  });
  socket.destroy();
  return text;
}

/** Milliseconds taken by `f`. */
export async function timed(f: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await f();
  return performance.now() - start;
}
