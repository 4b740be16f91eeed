/**
 * What a connection needs from its server (ServerCore), and who is at the other end when a trusted
 * proxy said so (ConnectionPeer). The server implements the one and passes the other to each Connection.
 */
import type { Authenticator } from './auth/authenticator.js';
import type { LoginThrottle } from './auth/throttle.js';
import type { CommandRegistry } from './commands/context.js';
import type { ServerEvents } from './events.js';
import type { Logger } from './logger.js';
import type { ServerSettings } from './settings.js';
import type { TlsContexts } from './tls/context.js';
import type { PoolMember } from './security/login-pool.js';

/** What a connection needs from its server. */
export interface ServerCore {
  readonly settings: ServerSettings;
  readonly registry: CommandRegistry;
  readonly authenticator: Authenticator;
  readonly tls: TlsContexts | undefined;
  readonly log: Logger;
  readonly events: ServerEvents;
  /** The login ban table shared by all listeners (undefined when bans are off). */
  readonly throttle: LoginThrottle | undefined;
  /** Sessions logged in as `user` right now. */
  userSessions(user: string): number;
  /** The connection logged in, out (REIN, USER), or started closing: the server's counts follow. */
  sessionChanged(member: PoolMember): void;
}

/** Who is at the other end, when not the socket's own peer (a PROXY-protocol header said so). */
export interface ConnectionPeer {
  /** The real client's address (canonical form). */
  remoteAddress: string;
  /** The address the client connected to (the header's destination). */
  localAddress: string;
  /** The proxy's own address. */
  proxy: string;
}
