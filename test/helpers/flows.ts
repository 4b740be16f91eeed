/**
 * Short transcripts the command tests repeat: log in, download or upload over a passive data connection
 * (optionally TLS-protected), each with its exact 150/226 replies.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { RawClient, readAll, writeAll, type ClientTls, type FtpReply } from './raw-client.js';
import { PASS, USER, type TestServer } from './server.js';

export interface LoginOptions {
  user?: string;
  pass?: string;
  /** AUTH mechanism to use before USER (explicit FTPS). */
  auth?: string;
  /** Connect to the implicit-FTPS port. */
  implicit?: boolean;
  /** Send TYPE I after login. */
  binary?: boolean;
  /** The control handshake: a session to resume, a version cap. */
  tls?: ClientTls;
}

/** A logged-in client (plain, explicit FTPS with `auth`, or implicit). */
export async function loggedIn(t: TestServer, opts: LoginOptions = {}): Promise<RawClient> {
  const c = opts.implicit
    ? await RawClient.connect(t.implicitPort!, t.host, { implicit: true, ...(opts.tls ? { tls: opts.tls } : {}) })
    : await RawClient.connect(t.port, t.host);
  if (opts.auth) {
    await c.auth(opts.auth, opts.tls);
    await c.expectCmd('PBSZ 0', 200, /^200 PBSZ=0$/);
  }
  await c.login(opts.user ?? USER, opts.pass ?? PASS);
  if (opts.binary) await c.expectCmd('TYPE I', 200, /^200 Switching to Binary mode\.$/);
  return c;
}

export interface DataOptions {
  /** Wrap the data connection in TLS resuming the control session (PROT P). */
  tls?: boolean;
  /** PASV instead of EPSV. */
  pasv?: boolean;
}

/**
 * Runs `cmd` (RETR, LIST, NLST, MLSD) over a fresh passive data connection; returns what arrived.
 * `opening`: what the 150 reply must say.
 */
export async function download(c: RawClient, cmd: string, opts: DataOptions & { opening?: RegExp } = {}): Promise<Buffer> {
  const data = opts.pasv ? await c.pasv() : await c.epsv();
  c.send(cmd);
  await c.expect(150, opts.opening);
  const stream: Socket | TLSSocket = opts.tls ? await c.protect(data) : data;
  const body = await readAll(stream);
  await c.expect(226, /^226 Transfer complete\.$/);
  return body;
}

/** Runs `cmd` (STOR, APPE, STOU) sending `body` over a fresh passive data connection; returns the 150. */
export async function upload(c: RawClient, cmd: string, body: Buffer | string, opts: DataOptions = {}): Promise<FtpReply> {
  const data = opts.pasv ? await c.pasv() : await c.epsv();
  c.send(cmd);
  const opening = await c.expect(150);
  const stream: Socket | TLSSocket = opts.tls ? await c.protect(data) : data;
  await writeAll(stream, body);
  await c.expect(226, /^226 Transfer complete\.$/);
  return opening;
}

/** Every byte value, many times over, in a non-repeating order. */
export function allBytes(length = 256 * 257): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + (i >> 8)) & 255;
  return out;
}

/**
 * Sends USER and a wrong PASS `failures` times on `c`: each is answered 530, and the last is followed by
 * 421 (too many failed logins) as the server closes the connection.
 */
export async function failLogins(c: RawClient, user: string, failures: number): Promise<void> {
  for (let i = 1; i < failures; i++) {
    await c.expectCmd(`USER ${user}`, 331);
    await c.expectCmd('PASS wrong', 530, /^530 Login incorrect\.$/);
  }
  await c.expectCmd(`USER ${user}`, 331);
  c.send('PASS wrong');
  await c.expect(530, /^530 Login incorrect\.$/);
  await c.expect(421, /^421 Too many failed logins; closing connection\.$/);
}
