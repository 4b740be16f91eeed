/**
 * A minimal FTP/FTPS load client on raw `net`/`tls` sockets, for the listing and idle-memory workloads
 * and for session setup (the session-rate and small-file drivers are leaner state machines of their own).
 * Every server gets exactly the same command sequence. Like curl, a data connection is opened (and its
 * TLS handshake started, offering the control connection's TLS session) before the transfer command.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, type TLSSocket } from 'node:tls';

/** One client context shared by every connection (creating one per connection costs milliseconds). */
export const CLIENT_TLS = { rejectUnauthorized: false, secureContext: createSecureContext({}) };

export interface Reply {
  code: number;
  text: string;
}

export class FtpReplyError extends Error {
  constructor(
    message: string,
    readonly reply?: Reply,
  ) {
    super(message + (reply ? ` (got ${reply.code} ${reply.text.split('\r\n')[0]})` : ''));
  }
}

interface Waiter {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

export interface TransferResult {
  bytes: number;
  lines: number;
  resumed: boolean;
}

export class FtpClient {
  /** Unparsed control bytes (handed over to and back from the lean drivers). */
  buf = '';
  /** The latest TLS session (ticket) of the control connection, offered by data connections. */
  session: Buffer | undefined;
  secure = false;
  closed = false;
  sock: Socket | undefined;
  private multi: string | null = null;
  private lines: string[] = [];
  private readonly replies: Reply[] = [];
  private waiters: Waiter[] = [];
  private error: Error | undefined;
  private readonly onData = (d: Buffer) => this.data(d);
  private readonly onError = (e: Error) => this.fail(e);
  private readonly onClose = () => {
    this.closed = true;
    this.fail(new Error('control connection closed'));
  };
  private readonly onTimeout = () => {
    this.fail(new Error('reply timeout'));
    this.sock?.destroy();
  };

  constructor(
    readonly host: string,
    readonly port: number,
    readonly timeoutMs = 30_000,
  ) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = netConnect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('connect timeout'));
      }, this.timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      this.attach(s);
    });
  }

  attach(s: Socket): void {
    this.sock = s;
    s.setTimeout(this.timeoutMs);
    s.on('data', this.onData);
    s.on('error', this.onError);
    s.on('close', this.onClose);
    s.on('timeout', this.onTimeout);
  }

  /** Takes the control socket away from this object (for AUTH TLS and the lean drivers). */
  detach(): Socket {
    const s = this.sock;
    if (!s) throw new Error('not connected');
    s.off('data', this.onData);
    s.off('error', this.onError);
    s.off('close', this.onClose);
    s.off('timeout', this.onTimeout);
    s.setTimeout(0);
    return s;
  }

  private data(d: Buffer): void {
    this.buf += d.toString('latin1');
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i + 1);
      this.buf = this.buf.slice(i + 1);
      this.lines.push(line);
      const code = line.slice(0, 3);
      const sep = line[3];
      if (this.multi === null) {
        if (/^\d{3}$/.test(code)) {
          if (sep === '-') {
            this.multi = code;
            continue;
          }
          this.reply(Number(code));
        } // else: a stray line, kept as text of the next reply
      } else if (code === this.multi && sep === ' ') {
        this.multi = null;
        this.reply(Number(code));
      }
    }
  }

  private reply(code: number): void {
    const r = { code, text: this.lines.join('') };
    this.lines = [];
    const w = this.waiters.shift();
    if (w) w.resolve(r);
    else this.replies.push(r);
  }

  private fail(e: Error): void {
    this.error ??= e;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.reject(e);
  }

  read(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  send(line: string): void {
    this.sock?.write(line + '\r\n');
  }

  async cmd(line: string, expect?: (code: number) => boolean): Promise<Reply> {
    this.send(line);
    const r = await this.read();
    if (expect && !expect(r.code)) throw new FtpReplyError(`${line.split(' ')[0]} failed`, r);
    return r;
  }

  async greet(): Promise<Reply> {
    const r = await this.read();
    if (r.code !== 220) throw new FtpReplyError('bad greeting', r);
    return r;
  }

  /** AUTH TLS, then the TLS handshake on the control connection. */
  async authTls(): Promise<void> {
    await this.cmd('AUTH TLS', (c) => c === 234);
    const raw = this.detach();
    await new Promise<void>((resolve, reject) => {
      const t = tlsConnect({ ...CLIENT_TLS, socket: raw });
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
      t.on('session', (s: Buffer) => {
        this.session = s;
      });
      this.attach(t);
    });
    this.secure = true;
  }

  async login(user: string, pass: string): Promise<void> {
    const r = await this.cmd('USER ' + user);
    if (r.code === 230) return;
    if (r.code !== 331) throw new FtpReplyError('USER failed', r);
    await this.cmd('PASS ' + pass, (c) => c === 230 || c === 202);
  }

  async protP(): Promise<void> {
    await this.cmd('PBSZ 0', (c) => c === 200);
    await this.cmd('PROT P', (c) => c === 200);
  }

  /** QUIT, then wait (at most a second) for the server to close the connection. */
  async quit(): Promise<void> {
    try {
      this.send('QUIT');
      await this.read();
    } catch {
      // already gone
    }
    const s = this.sock;
    if (!s || this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        s.destroy();
        resolve();
      }, 1000);
      s.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      s.end();
    });
  }

  destroy(): void {
    this.sock?.destroy();
  }

  /** PASV; the advertised address is ignored (the control host is used). */
  async pasv(): Promise<number> {
    const r = await this.cmd('PASV', (c) => c === 227);
    const m = /(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)/.exec(r.text);
    if (!m) throw new FtpReplyError('unparsable PASV reply', r);
    return Number(m[5]) * 256 + Number(m[6]);
  }

  /** One passive transfer: PASV, connect (TLS if `secure`), send `command`, drain the data, read 2xx. */
  async transfer(command: string, { secure = false, countLines = false } = {}): Promise<TransferResult> {
    const port = await this.pasv();
    let bytes = 0;
    let lines = 0;
    let resumed = false;
    const sock: Socket | TLSSocket = secure
      ? tlsConnect({ ...CLIENT_TLS, host: this.host, port, ...(this.session ? { session: this.session } : {}) })
      : netConnect({ host: this.host, port });
    const opened = new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
      if (secure) sock.once('secureConnect', () => (resumed = (sock as TLSSocket).isSessionReused()));
    });
    const drained = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        bytes += d.length;
        if (countLines) for (let i = 0; i < d.length; i++) if (d[i] === 10) lines++;
      });
      sock.once('close', () => resolve());
      sock.on('error', () => {});
    });
    try {
      await opened;
    } catch (e) {
      sock.destroy();
      throw e;
    }
    const verb = command.split(' ')[0] ?? command;
    const pre = await this.cmd(command);
    if (pre.code >= 300) {
      sock.destroy();
      throw new FtpReplyError(`${verb} refused`, pre);
    }
    if (pre.code < 200) {
      const fin = await this.read();
      if (fin.code !== 226 && fin.code !== 250) {
        sock.destroy();
        throw new FtpReplyError(`${verb} failed`, fin);
      }
    }
    await drained;
    return { bytes, lines, resumed };
  }
}

export interface SessionOptions {
  host: string;
  port: number;
  user: string;
  pass: string;
  tls: boolean;
  timeoutMs: number;
}

/** Connect, (AUTH TLS,) log in. */
export async function openSession(o: SessionOptions): Promise<FtpClient> {
  const f = new FtpClient(o.host, o.port, o.timeoutMs);
  try {
    await f.connect();
    await f.greet();
    if (o.tls) await f.authTls();
    await f.login(o.user, o.pass);
    return f;
  } catch (e) {
    f.destroy();
    throw e;
  }
}
