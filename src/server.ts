/**
 * The server: listeners for explicit FTP(S) and implicit FTPS, the registry of live sessions, and a
 * close() that resolves only when every socket is gone.
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Authenticator } from './auth/authenticator.js';
import { createRegistry } from './commands/index.js';
import type { CommandSpec, CommandRegistry } from './commands/context.js';
import type { SiteCommandSpec } from './commands/site.js';
import { Connection, type ConnectionPeer, type ServerCore } from './connection.js';
import { ServerEvents } from './events.js';
import { reportError } from './diagnostics.js';
import { sessionReuse } from './policy.js';
import { logs, silentLogger, type Logger } from './logger.js';
import { resolveSettings, type ServerSettings, type SettingsOptions } from './settings.js';
import { TlsContexts, type TlsMaterial } from './tls/context.js';
import { normalizeAddress } from './base/address.js';
import type { LoginThrottle } from './auth/throttle.js';
import { ConnectionGate, REFUSALS, refuse } from './security/gate.js';
import { LoginPool, type PoolMember } from './security/login-pool.js';
import { guardUntrusted, readProxyHeader, TrustedProxies } from './proxy/accept.js';
import { listenOn } from './base/listen.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * The server's options: where it listens, the certificate, who may log in, and the settings
 * (SettingsOptions in settings.ts: TLS policy, passive ports, proxies, timeouts, limits, security,
 * uploads, greeting), which reconfigure() can change.
 */
export interface FtpServerOptions extends SettingsOptions {
  /** Explicit FTP(S) listeners (AUTH TLS). Default: `[::]:2121`. */
  listen?: ListenAddress[];
  /** Implicit FTPS listeners (TLS before the greeting). Default: none. */
  implicitListen?: ListenAddress[];
  /** Certificate and key (PEM). Without them there is no FTPS and `tlsRequired` must be `off`. */
  tls?: TlsMaterial;
  authenticator: Authenticator;
  logger?: Logger;
  /** Extra commands (replacing built-ins of the same name). */
  commands?: CommandSpec[];
  siteCommands?: SiteCommandSpec[];
  /** Where the server emits its events (default: a new emitter, `server.events`); `createServer` passes itself. */
  events?: ServerEvents;
}

/** What `reconfigure()` changes on a running server: the settings, the authenticator and the certificate. */
export interface ReconfigureOptions extends SettingsOptions, Partial<Pick<FtpServerOptions, 'authenticator' | 'tls'>> {}

/** The parts of a server that `reconfigure()` swaps together. */
interface ActiveConfig {
  options: FtpServerOptions;
  settings: ServerSettings;
  proxies: TrustedProxies;
}

/**
 * Sessions held by other processes serving the same ports (the other workers of a cluster, see
 * src/cluster/), counted in the session caps. Read at each admission and login.
 */
export interface PeerSessions {
  /** Their open sessions. */
  readonly sessions: number;
  /** Their sessions from `address`. */
  sessionsFrom(address: string): number;
  /** Their sessions logged in as `user`. */
  userSessions(user: string): number;
}

/**
 * The engine every server runs (the `ftpsd` command, its cluster workers, and `createServer`'s
 * FtpsdServer, the embedding API's one server class: it has `reconfigure` and `updateTls` too). Its
 * options are the resolved forms (objects, PEM, an authenticator); a program should start from
 * `createServer`.
 */
export class FtpServer implements ServerCore {
  readonly events: ServerEvents;
  readonly registry: CommandRegistry;
  readonly tls: TlsContexts | undefined;
  readonly log: Logger;
  /** Live sessions by id. */
  readonly sessions = new Map<string, Connection>();
  /** The live sessions counted for admission (those waiting to log in) and per user, kept as they change. */
  private readonly pool = new LoginPool<Connection>();
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private closing = false;
  /** Admission at accept (access lists, bans, session caps), shared by every listener. */
  readonly gate: ConnectionGate;

  /** The login ban table (undefined when bans are off). */
  get throttle(): LoginThrottle | undefined {
    return this.gate.throttle;
  }

  /** Sessions of the other workers of a cluster (undefined: this process is alone). */
  peers: PeerSessions | undefined;

  /** Sessions logged in as `user` right now (those of the other workers of a cluster included). */
  userSessions(user: string): number {
    return (this.peers?.userSessions(user) ?? 0) + this.pool.userSessions(user);
  }

  /** A session logged in, out, or started closing (connection.ts reports it). */
  sessionChanged(member: PoolMember): void {
    this.pool.update(member as Connection);
  }

  private active: ActiveConfig;

  /** The settings new connections get (a session keeps those it started with). */
  get settings(): ServerSettings {
    return this.active.settings;
  }

  /** Who may log in: the current one is asked at every login (sessions keep the login they have). */
  get authenticator(): Authenticator {
    return this.active.options.authenticator;
  }

  private get options(): FtpServerOptions {
    return this.active.options;
  }

  constructor(options: FtpServerOptions) {
    this.events = options.events ?? new ServerEvents();
    const settings = FtpServer.resolve(options);
    if (!options.tls && (options.implicitListen?.length ?? 0) > 0) {
      throw new Error('implicit FTPS needs a certificate');
    }
    this.active = { options, settings, proxies: new TrustedProxies(settings.proxyProtocol) };
    this.tls = options.tls
      ? new TlsContexts(options.tls, { resumption: sessionReuse(settings).bind })
      : undefined;
    this.log = options.logger ?? silentLogger;
    this.gate = new ConnectionGate(settings, this.log);
    this.registry = createRegistry(options.commands, options.siteCommands);
  }

  /** Settings from options, checked (throws with a plain message). */
  private static resolve(options: FtpServerOptions): ServerSettings {
    const settings = resolveSettings(options);
    if (!options.tls && settings.tlsRequired !== 'off') {
      throw new Error('tlsRequired must be "off" when no certificate is configured');
    }
    return settings;
  }

  /**
   * Changes a running server's configuration without dropping anyone: each option given replaces that
   * option as a whole (as if given to the constructor; `undefined` means its default), options left out
   * stay. Everything is checked first, then switched at once; on a bad value this throws and nothing
   * changes. New connections get the new settings, access lists, caps and ban policy; every login from
   * now on (on old connections too) asks the new authenticator; running sessions keep their login,
   * storage and settings. Bans in force and open-session counts carry over. Listeners do not change.
   */
  reconfigure(changes: ReconfigureOptions): void {
    const options: FtpServerOptions = { ...this.active.options, ...changes };
    if (!options.authenticator) throw new Error('reconfigure: an authenticator is required');
    const settings = FtpServer.resolve(options);
    const proxies = new TrustedProxies(settings.proxyProtocol);
    const switchGate = this.gate.prepare(settings);
    let switchTls: (() => void) | undefined;
    if (this.tls) {
      const resumption = sessionReuse(settings).bind;
      if (changes.tls || resumption !== sessionReuse(this.active.settings).bind) {
        switchTls = this.tls.prepare(changes.tls, { resumption });
      }
    } else if (changes.tls) {
      throw new Error('reconfigure: this server was started without TLS; a certificate needs a restart');
    }
    // Nothing below throws: the switch is all or nothing.
    switchTls?.();
    switchGate();
    this.active = { options, settings, proxies };
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
    // A failure to listen is the caller's error (one line at start-up), not a logged stack: the
    // listener's own error handler is installed once it listens.
    await listenOn(server, { host: addr.host, port: addr.port, ...(addr.host === '::' ? { ipv6Only: false } : {}) });
    server.on('error', (err) => {
      this.log.error({ err }, 'listener error');
      reportError(this.events, err);
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
    const peer = normalizeAddress(socket.remoteAddress);
    const { proxies } = this.active;
    if (!proxies.trusts(peer)) {
      if (proxies.enabled) {
        guardUntrusted(socket, () => {
          this.log.warn({ peer }, 'refused a PROXY header from an address that is not a trusted proxy; closing');
          socket.destroy();
        });
      }
      this.admit(socket, implicit, peer, undefined);
      return;
    }
    // A trusted proxy: its header comes first (before TLS on the implicit port, before the greeting).
    readProxyHeader(socket, this.settings.timeouts.handshakeMs).then(
      (header) => {
        if (this.closing || socket.destroyed) {
          socket.destroy();
          return;
        }
        if (header.kind === 'unknown') {
          // PROXY UNKNOWN, or LOCAL (the proxy's health checks): the proxy speaks for itself.
          this.admit(socket, implicit, peer, undefined);
          return;
        }
        const real = normalizeAddress(header.source.address);
        this.admit(socket, implicit, real, { remoteAddress: real, localAddress: normalizeAddress(header.destination.address), proxy: peer });
      },
      (err: Error) => {
        this.log.warn({ peer, reason: err.message }, 'PROXY header refused; closing');
        socket.destroy();
      },
    );
  }

  /**
   * Admission of the client at `address` (the real client's, behind a proxy): refused before any TLS
   * or greeting byte by the access lists, bans and session caps; else its session starts.
   */
  private admit(socket: Socket, implicit: boolean, address: string, peer: ConnectionPeer | undefined): void {
    const { peers } = this;
    const others = peers?.sessions ?? 0;
    // A full pre-login pool (or a full server with someone waiting to log in) makes room by pushing out
    // the oldest connection waiting to log in, once the new one passed every other check.
    const { live, evict } = this.pool.room(this.settings.limits, others);
    const refusal = this.gate.admit(address, live + others - (evict ? 1 : 0), peers?.sessionsFrom(address) ?? 0);
    if (refusal) {
      refuse(socket, refusal, implicit);
      return;
    }
    if (evict) {
      this.gate.noteEviction(evict.remoteAddress);
      evict.evict(REFUSALS['prelogin-full'].slice(4));
    }
    const conn = new Connection(this, socket, implicit, peer);
    // After a PROXY header the socket was left paused, with any bytes after the header put back.
    socket.resume();
    this.sessions.set(conn.id, conn);
    this.pool.join(conn);
    this.events.emit('connect', conn.info);
    // Only when the line is written: the session's child logger (made by conn.log) is per-session memory.
    if (logs(this.log, 'info')) conn.log.info({ peer: conn.remoteAddress, implicit, ...(peer ? { proxy: peer.proxy } : {}) }, 'connect');
    conn
      .run()
      .catch((err: unknown) => {
        this.log.error({ err }, 'session failed');
        reportError(this.events, err, conn.id);
      })
      .finally(() => {
        this.sessions.delete(conn.id);
        this.pool.leave(conn);
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
   * connection is closed. Running transfers get until `graceMs` to finish (then their 226 and a 421);
   * those still running then are stopped with `426` (an upload is aborted: nothing of it is kept), and
   * their sessions get the 421 too. Every reply gets a bounded time to go out before the connection closes.
   */
  async close(graceMs = 0): Promise<void> {
    this.closing = true;
    this.events.emit('shutdown');
    const stopped = Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    const all = () => Promise.all([...this.sessions.values()].map((c) => c.closed));
    for (const conn of this.sessions.values()) {
      if (!conn.transferring || graceMs <= 0) void conn.shutdown();
      else void conn.transferDone().then(() => conn.shutdown());
    }
    if (graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    // Past the grace period: whatever still runs is stopped (426), and every session told (421).
    await Promise.all([...this.sessions.values()].map((c) => c.shutdown()));
    await Promise.all([...this.sessions.values()].map((c) => c.closed));
    for (const s of this.sockets) s.destroy();
    await stopped;
  }
}
