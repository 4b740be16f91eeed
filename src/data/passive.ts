/**
 * Passive data connections: a listener on a random free port of the configured range (or any free port),
 * which accepts exactly one connection, and only from the control connection's peer address. A
 * connection from anywhere else is closed and logged; the session goes on waiting.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { sameHost, type PortRange } from '../base/address.js';
import { FtpError } from '../base/errors.js';
import { Code } from '../base/reply-codes.js';
import { listenOn } from '../base/listen.js';

export type { PortRange } from '../base/address.js';

export interface PassiveOptions {
  /** Local address to listen on: the control connection's local address. */
  host: string;
  /**
   * Where to listen instead when `host` is not an address of this host (a PROXY-protocol session's
   * destination may be the proxy's), tried in order.
   */
  fallbackHosts?: readonly string[];
  ports: PortRange | undefined;
  /** Only this address may connect. */
  peer: string;
  /** Called for a refused foreign connection (for the log). */
  onForeign?: (address: string | undefined) => void;
}

export class PassiveListener {
  private socket: Socket | undefined;
  private waiter: ((s: Socket) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: PassiveOptions,
  ) {
    server.on('connection', (s) => this.onConnection(s));
    server.on('error', () => {});
  }

  static async open(options: PassiveOptions): Promise<PassiveListener> {
    const hosts = [options.host, ...(options.fallbackHosts ?? [])];
    for (const [h, host] of hosts.entries()) {
      try {
        return await PassiveListener.openOn(host, options);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const notHere = code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EINVAL';
        if (!notHere || h === hosts.length - 1) throw err;
      }
    }
    throw noPort();
  }

  private static async openOn(host: string, options: PassiveOptions): Promise<PassiveListener> {
    const { ports } = options;
    const attempts = ports ? Math.min(ports.max - ports.min + 1, 64) : 1;
    const span = ports ? ports.max - ports.min + 1 : 1;
    const first = ports ? randomInt(span) : 0;
    for (let i = 0; i < attempts; i++) {
      // Random start, then a stride through the range, so busy ports are skipped quickly.
      const port = ports ? ports.min + ((first + i * 7919) % span) : 0;
      // Half-open allowed: an upload checks after the client's FIN whether it was really a reset (data-end.ts).
      const server = createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true });
      try {
        await listenOn(server, { port, host, backlog: 4, exclusive: true, ...(host === '::' ? { ipv6Only: false } : {}) });
      } catch (err) {
        server.close();
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EACCES') continue;
        throw err;
      }
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        break;
      }
      return new PassiveListener(server, address.port, options);
    }
    throw noPort();
  }

  private onConnection(s: Socket): void {
    s.on('error', () => {});
    if (this.closed || this.socket || !sameHost(s.remoteAddress, this.options.peer)) {
      if (!this.closed && !this.socket) this.options.onForeign?.(s.remoteAddress);
      s.destroy();
      return;
    }
    this.socket = s;
    this.server.close(); // exactly one connection per PASV
    const w = this.waiter;
    this.waiter = undefined;
    w?.(s);
  }

  /** The data connection: at once if the client already connected, else when it does, or a 425. */
  accept(timeoutMs: number, signal: AbortSignal): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.closed) return Promise.reject(noConnection());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(undefined, noConnection()), timeoutMs);
      const onAbort = () => done(undefined, noConnection());
      const done = (s?: Socket, err?: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        if (s) resolve(s);
        else reject(err);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = (s) => done(s);
    });
  }

  /** Hands the accepted socket to the caller (who now owns it). */
  take(): void {
    this.socket = undefined;
    this.closed = true;
  }

  close(): void {
    this.closed = true;
    this.server.close();
    this.socket?.destroy();
    this.socket = undefined;
  }
}

function noPort(): FtpError {
  return new FtpError(Code.cannotOpenData, 'No passive port available, try again later.', { code: 'FTP_ERR_DATA_CONNECTION' });
}

function noConnection(): FtpError {
  return new FtpError(Code.cannotOpenData, "Can't open data connection.", { code: 'FTP_ERR_DATA_CONNECTION' });
}
