/**
 * Passive data connections: a listener on a random free port of the configured range (or any free port),
 * kept by its session across transfers. Each PASV/EPSV arms it for exactly one connection, and only from
 * the control connection's peer address: a connection from anywhere else is closed and logged while the
 * session goes on waiting; any connection while it is not armed (before the PASV, after the one
 * connection was taken, after ABOR) is closed at once. One listener per session instead of one per PASV
 * saves a socket, bind, listen and close per transfer (small files); a listener not armed for
 * `KEEP_MS` closes by itself, so idle sessions do not hold ports of the range.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { sameHost, type PortRange } from '../base/address.js';
import { FtpError } from '../base/errors.js';
import { Code } from '../base/reply-codes.js';
import { listenOn } from '../base/listen.js';

export type { PortRange } from '../base/address.js';

/** How long an unarmed listener stays open for the session's next PASV/EPSV. */
export const KEEP_MS = 5_000;

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
  /**
   * Called with the data connection of an arming as it is accepted, before a transfer takes it (the
   * session may start reading it: early-tls.ts). The socket stays the listener's until `take`.
   */
  onAccept?: (socket: Socket) => void;
}

export class PassiveListener {
  /** The one connection of the current arming, not yet taken. */
  private socket: Socket | undefined;
  private waiter: ((s: Socket | undefined) => void) | undefined;
  /** Armed: the next connection from the peer is the data connection of the current PASV/EPSV. */
  private armed = false;
  /** Counts armings, so a transfer releases only its own. */
  private generation = 0;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: PassiveOptions,
  ) {
    server.on('connection', (s) => this.onConnection(s));
    server.on('error', () => {});
  }

  /** Whether it can be armed again (not closed, by its session or for being idle). */
  get usable(): boolean {
    return !this.closed;
  }

  /** Whether it was opened for this port range (the range may change on reload). */
  servesRange(ports: PortRange | undefined): boolean {
    const own = this.options.ports;
    return own === ports || (own !== undefined && ports !== undefined && own.min === ports.min && own.max === ports.max);
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
    if (this.closed || !this.armed || this.socket) {
      s.destroy();
      return;
    }
    if (!sameHost(s.remoteAddress, this.options.peer)) {
      this.options.onForeign?.(s.remoteAddress);
      s.destroy();
      return;
    }
    this.socket = s; // exactly one connection per PASV: the next ones are closed
    const w = this.waiter;
    this.waiter = undefined;
    this.options.onAccept?.(s);
    w?.(s);
  }

  /**
   * A new PASV/EPSV: whatever connected for an earlier one is closed, and the next connection from the
   * peer is taken. Returns the arming's number for `release`.
   */
  arm(): number {
    this.dropSocket();
    this.armed = true;
    return ++this.generation;
  }

  /** The data connection: at once if the client already connected, else when it does, or a 425. */
  accept(timeoutMs: number, signal: AbortSignal): Promise<Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    if (this.closed || !this.armed) return Promise.reject(noConnection());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const onAbort = () => done(undefined);
      const done = (s: Socket | undefined) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        if (s) resolve(s);
        else reject(noConnection());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = done;
    });
  }

  /** Hands the accepted socket to the caller (who now owns it); the arming is used up. */
  take(): void {
    this.socket = undefined;
    this.armed = false;
    this.idle();
  }

  /**
   * Ends arming `generation` (a transfer is over, or failed before it connected; ABOR; PORT): a
   * connection not taken is closed, and later ones are refused until the next `arm`.
   */
  release(generation: number): void {
    if (generation !== this.generation || this.closed) return;
    this.armed = false;
    this.dropSocket();
    this.idle();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.armed = false;
    clearTimeout(this.idleTimer);
    this.server.close();
    this.dropSocket();
  }

  private dropSocket(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(undefined);
    this.socket?.destroy();
    this.socket = undefined;
  }

  /** Not armed: closes after KEEP_MS unless armed again. */
  private idle(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else this.idleTimer = setTimeout(() => !this.armed && !this.socket && this.close(), KEEP_MS).unref();
  }
}

function noPort(): FtpError {
  return new FtpError(Code.cannotOpenData, 'No passive port available, try again later.', { code: 'FTP_ERR_DATA_CONNECTION' });
}

function noConnection(): FtpError {
  return new FtpError(Code.cannotOpenData, "Can't open data connection.", { code: 'FTP_ERR_DATA_CONNECTION' });
}
