/**
 * A minimal FTP client on raw sockets for exact transcripts: send a line, expect a reply code and text.
 * Speaks TLS (AUTH TLS, implicit, data connections resuming the control session) and CCC.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureVersion, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';

export interface FtpReply {
  code: number;
  text: string;
  lines: string[];
}

/** How the client's control TLS handshake goes: resume `session`, cap the version, OpenSSL options. */
export interface ClientTls {
  session?: Buffer;
  maxVersion?: SecureVersion;
  /** E.g. `SSL_OP_NO_TICKET`: a TLS 1.2 client that resumes by session id (data connections too). */
  secureOptions?: number;
}

export class RawClient {
  private buffer = '';
  private replies: FtpReply[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  socket: Socket | TLSSocket;
  /** The raw TCP socket under TLS. */
  readonly raw: Socket;
  session: Buffer | undefined;
  /** Every session (ticket) the control connection was given, oldest first (at most 8). */
  readonly tickets: Buffer[] = [];
  /** The control connection's version cap; data connections use it too, as real clients do. */
  maxVersion: SecureVersion | undefined;
  secureOptions: number | undefined;
  /** The source address given to connect(); data connections use it too. */
  localAddress: string | undefined;

  private constructor(raw: Socket, readonly host: string) {
    this.raw = raw;
    this.socket = raw;
    this.attach(raw);
  }

  /** `localAddress` binds the client socket (e.g. 127.0.0.2: Linux routes all of 127/8 to loopback). */
  static async connect(
    port: number,
    host = '127.0.0.1',
    opts: { implicit?: boolean; greeting?: boolean; localAddress?: string; before?: (raw: Socket) => void; tls?: ClientTls } = {},
  ): Promise<RawClient> {
    const raw = netConnect({ port, host, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    raw.on('error', () => {});
    await once(raw, 'connect');
    const c = new RawClient(raw, host);
    c.localAddress = opts.localAddress;
    // Bytes to send first (a PROXY protocol header, as a proxy in front would).
    opts.before?.(raw);
    if (opts.implicit) await c.upgrade(opts.tls);
    if (opts.greeting !== false) await c.expect(220);
    return c;
  }

  /**
   * Parses the replies that arrive on `s`. Decodes without `setEncoding`, so the raw socket keeps giving
   * Buffers (test/helpers/ccc.ts runs TLS over it and attaches the raw socket again after CCC).
   */
  attach(s: Socket | TLSSocket): void {
    const decoder = new StringDecoder('utf8');
    s.on('data', (d: Buffer) => {
      this.buffer += decoder.write(d);
      this.parse();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake();
    });
    s.on('error', () => {});
  }

  private parse(): void {
    for (;;) {
      const m = /^(\d{3})([ -])/.exec(this.buffer);
      if (!m) {
        const nl = this.buffer.indexOf('\r\n');
        if (nl >= 0 && !/^\d{3}/.test(this.buffer)) throw new Error(`bad reply line: ${this.buffer.slice(0, nl)}`);
        return;
      }
      const code = m[1]!;
      let end: number;
      if (m[2] === ' ') {
        end = this.buffer.indexOf('\r\n');
        if (end < 0) return;
      } else {
        const re = new RegExp(`\\r\\n${code} [^\\r\\n]*\\r\\n`, 'g');
        const found = re.exec(this.buffer);
        if (!found) return;
        end = found.index + found[0].length - 2;
      }
      const raw = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const lines = raw.split('\r\n');
      this.replies.push({ code: Number(code), text: raw, lines });
      this.wake();
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The next reply (waits up to `timeoutMs`). */
  async reply(timeoutMs = 10_000): Promise<FtpReply> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      if (this.closed) throw new Error('connection closed while waiting for a reply');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a reply');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.replies.shift()!;
  }

  async expect(code: number, text?: RegExp): Promise<FtpReply> {
    const r = await this.reply();
    if (r.code !== code || (text && !text.test(r.text))) {
      throw new Error(`expected ${code}${text ? ' ' + text : ''}, got: ${r.text}`);
    }
    return r;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** Sends a command and returns its reply. */
  async cmd(line: string): Promise<FtpReply> {
    this.send(line);
    return this.reply();
  }

  /** Whether the server closed the connection (waits up to `timeoutMs`). */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    if (this.closed) return true;
    await Promise.race([once(this.socket, 'close'), new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.closed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Upgrades the control connection to TLS (after 234, or at once for implicit FTPS). */
  async upgrade(opts: ClientTls = {}): Promise<void> {
    const raw = this.raw;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    const tls = tlsConnect({ socket: raw, rejectUnauthorized: false, servername: 'localhost', ...opts });
    // A resumed TLS 1.3 handshake brings no new ticket: data connections then resume the same session.
    if (opts.session) this.session = opts.session;
    this.maxVersion = opts.maxVersion;
    this.secureOptions = opts.secureOptions;
    tls.on('session', (s: Buffer) => {
      this.session = s;
      if (this.tickets.length < 8) this.tickets.push(s);
    });
    tls.on('error', () => {});
    await once(tls, 'secureConnect');
    this.socket = tls;
    this.attach(tls);
  }

  /** AUTH TLS + handshake. */
  async auth(mechanism = 'TLS', opts?: ClientTls): Promise<void> {
    await this.expectCmd(`AUTH ${mechanism}`, 234);
    await this.upgrade(opts);
  }

  async expectCmd(line: string, code: number, text?: RegExp): Promise<FtpReply> {
    this.send(line);
    return this.expect(code, text);
  }

  async login(user: string, pass: string): Promise<void> {
    await this.expectCmd(`USER ${user}`, 331);
    await this.expectCmd(`PASS ${pass}`, 230);
  }

  /** EPSV and connect; returns the plain data socket. */
  async epsv(): Promise<Socket> {
    const r = await this.expectCmd('EPSV', 229);
    const port = Number(/\|\|\|(\d+)\|/.exec(r.text)![1]);
    const s = netConnect({ port, host: this.host, ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
    s.on('error', () => {});
    await once(s, 'connect');
    return s;
  }

  async pasv(): Promise<Socket> {
    const r = await this.expectCmd('PASV', 227);
    const n = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(r.text)!.slice(1).map(Number);
    const s = netConnect({
      port: n[4]! * 256 + n[5]!,
      host: n.slice(0, 4).join('.'),
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
    });
    s.on('error', () => {});
    await once(s, 'connect');
    return s;
  }

  /** Wraps a data socket in TLS, resuming the control connection's session unless `resume` is false. */
  async protect(data: Socket, resume = true): Promise<TLSSocket> {
    const tls = tlsConnect({
      socket: data,
      rejectUnauthorized: false,
      servername: 'localhost',
      ...(resume && this.session ? { session: this.session } : {}),
      ...(this.maxVersion ? { maxVersion: this.maxVersion } : {}),
      ...(this.secureOptions !== undefined ? { secureOptions: this.secureOptions } : {}),
    });
    tls.on('error', () => {});
    await once(tls, 'secureConnect');
    return tls;
  }

  close(): void {
    this.socket.destroy();
    this.raw.destroy();
  }
}

/** Reads a data connection to its end. */
export async function readAll(s: Socket | TLSSocket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  await Promise.race([once(s, 'end'), once(s, 'close')]);
  return Buffer.concat(chunks);
}

/** Writes `data` and closes the data connection (with close_notify for TLS). */
export async function writeAll(s: Socket | TLSSocket, data: Buffer | string): Promise<void> {
  await new Promise<void>((resolve) => s.end(data, () => resolve()));
}
