/**
 * The server: listeners for explicit FTP(S) and implicit FTPS, the registry of live sessions, and a
 * close() that resolves only when every socket is gone.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Authenticator } from './auth/authenticator.js';
import { createRegistry } from './commands/index.js';
import type { CommandSpec, CommandRegistry } from './commands/define.js';
import type { SiteCommandSpec } from './commands/site.js';
import { Connection, type ServerCore } from './connection.js';
import { ServerEvents } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { resolveSettings, type Limits, type SecurityOptions, type ServerSettings, type SessionReuse, type Timeouts, type TlsRequired } from './settings.js';
import type { PortRange } from './data/passive.js';
import { TlsContexts, type TlsMaterial } from './tls/context.js';
import { formatReply, reply } from './protocol/reply.js';
import { normalizeAddress } from './data/address.js';
import type { LoginThrottle } from './auth/throttle.js';
import { ConnectionGate, refuse } from './security/gate.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface FtpServerOptions {
  /** Explicit FTP(S) listeners (AUTH TLS). Default: `[::]:2121`. */
  listen?: ListenAddress[];
  /** Implicit FTPS listeners (TLS before the greeting). Default: none. */
  implicitListen?: ListenAddress[];
  /** Certificate and key (PEM). Without them there is no FTPS and `tlsRequired` must be `off`. */
  tls?: TlsMaterial;
  authenticator: Authenticator;
  /** `login` (default): TLS before USER/PASS; `all`: also PROT P for every transfer; `off`: plain FTP allowed. */
  tlsRequired?: TlsRequired;
  /** `require` (default): protected data connections must resume their control connection's TLS session. */
  sessionReuse?: SessionReuse;
  pasvPorts?: PortRange;
  pasvAddress?: string;
  greeting?: string;
  timeouts?: Partial<Timeouts>;
  limits?: Partial<Limits>;
  /** Login bans and access lists (see settings.ts for the defaults). */
  security?: SecurityOptions;
  logger?: Logger;
  /** Extra commands (replacing built-ins of the same name). */
  commands?: CommandSpec[];
  siteCommands?: SiteCommandSpec[];
}

export class FtpServer implements ServerCore {
  readonly events = new ServerEvents();
  readonly settings: ServerSettings;
  readonly registry: CommandRegistry;
  readonly authenticator: Authenticator;
  readonly tls: TlsContexts | undefined;
  readonly log: Logger;
  /** Live sessions by id. */
  readonly sessions = new Map<string, Connection>();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private closing = false;
  /** Admission at accept (access lists, bans, session caps), shared by every listener. */
  readonly gate: ConnectionGate;

  /** The login ban table (undefined when bans are off). */
  get throttle(): LoginThrottle | undefined {
    return this.gate.throttle;
  }

  /** Sessions logged in as `user` right now. */
  userSessions(user: string): number {
    let n = 0;
    for (const conn of this.sessions.values()) if (conn.session.user?.name === user) n++;
    return n;
  }

  constructor(private readonly options: FtpServerOptions) {
    this.settings = resolveSettings({
      ...(options.greeting !== undefined ? { greeting: options.greeting } : {}),
      ...(options.tlsRequired !== undefined ? { tlsRequired: options.tlsRequired } : {}),
      ...(options.sessionReuse !== undefined ? { sessionReuse: options.sessionReuse } : {}),
      pasvPorts: options.pasvPorts,
      pasvAddress: options.pasvAddress,
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.security ? { security: options.security } : {}),
    });
    if (!options.tls && this.settings.tlsRequired !== 'off') {
      throw new Error('tlsRequired must be "off" when no certificate is configured');
    }
    if (!options.tls && (options.implicitListen?.length ?? 0) > 0) {
      throw new Error('implicit FTPS needs a certificate');
    }
    this.tls = options.tls
      ? new TlsContexts(options.tls, { resumption: this.settings.sessionReuse !== 'off' })
      : undefined;
    this.authenticator = options.authenticator;
    this.log = options.logger ?? silentLogger;
    this.gate = new ConnectionGate(this.settings, this.log);
    this.registry = createRegistry(options.commands, options.siteCommands);
  }

  /** Starts every listener; resolves with their addresses (port 0 becomes the real port). */
  async listen(): Promise<{ explicit: AddressInfo[]; implicit: AddressInfo[] }> {
    const explicit: AddressInfo[] = [];
    const implicit: AddressInfo[] = [];
    for (const addr of this.options.listen ?? [{ host: '::', port: 2121 }]) explicit.push(await this.listenOne(addr, false));
    for (const addr of this.options.implicitListen ?? []) implicit.push(await this.listenOne(addr, true));
    return { explicit, implicit };
  }

  private async listenOne(addr: ListenAddress, implicit: boolean): Promise<AddressInfo> {
    const server = createNetServer({ noDelay: true }, (socket) => this.accept(socket, implicit));
    server.on('error', (err) => this.log.error({ err }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: addr.host, port: addr.port, ...(addr.host === '::' ? { ipv6Only: false } : {}) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.push(server);
    const info = server.address() as AddressInfo;
    this.log.info({ address: info.address, port: info.port, implicit }, 'listening');
    return info;
  }

  private accept(socket: Socket, implicit: boolean): void {
    socket.on('error', () => {});
    if (this.closing || !socket.remoteAddress) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    // Refused before any TLS or greeting byte: access lists, bans, session caps.
    const address = normalizeAddress(socket.remoteAddress);
    const refusal = this.gate.admit(address, this.sessions.size);
    if (refusal) {
      refuse(socket, refusal, implicit);
      return;
    }
    const conn = new Connection(this, socket, implicit);
    this.sessions.set(conn.id, conn);
    this.events.emit('connect', conn.info);
    conn.log.info({ peer: conn.remoteAddress, implicit }, 'connect');
    conn
      .run()
      .catch((err: unknown) => this.log.error({ err }, 'session failed'))
      .finally(() => {
        this.sessions.delete(conn.id);
        this.gate.release(address);
      });
  }

  /** Replaces certificate and key for new connections; sessions keep running. */
  updateTls(material: TlsMaterial): void {
    if (!this.tls) throw new Error('server has no TLS');
    this.tls.update(material);
  }

  /**
   * Stops accepting, tells idle sessions the server is going down (421), and resolves when every
   * connection is closed. Running transfers get until `graceMs` to finish.
   */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    const bye = formatReply(reply(421, 'Server shutting down.'));
    const all = () => Promise.all([...this.sessions.values()].map((c) => c.closed));
    for (const conn of this.sessions.values()) {
      if (!conn.transferring || graceMs <= 0) void conn.channel.write(bye).finally(() => conn.destroy());
      else void conn.transferDone().then(() => conn.channel.write(bye)).finally(() => conn.destroy());
    }
    if (graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    for (const conn of this.sessions.values()) conn.destroy();
    await Promise.all([...this.sessions.values()].map((c) => c.closed));
    for (const s of this.sockets) s.destroy();
    await stopped;
  }
}
