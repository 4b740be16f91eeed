/**
 * What the admin console (src/admin/, a floor above) needs from the running server, and how `ftpsd serve`
 * starts it: the CLI passes a starter in the serve context. A single process gives its own server's
 * (runtime/serve-admin.ts); the cluster's primary gives the whole cluster's, asked over IPC
 * (src/cluster/cluster-admin.ts). Nothing here names an FtpServer: sessions come from a SessionSource.
 */
import type { AddressInfo } from 'node:net';
import type { AdminSettings } from '../config/admin-schema.js';
import type { Logger } from '../logger.js';
import type { ListenAddress } from '../server.js';
import type { Certificate } from '../config/certificate.js';
import { ConfigError } from '../config/errors.js';
import { errnoText } from '../config/errno-text.js';
import { formatAddress } from '../config/listen-address.js';
import type { LoginThrottle } from '../auth/throttle.js';
import type { SessionSource } from './session-directory.js';
import type { ConfigReloadResult } from './config-reload.js';
import type { AdminStore } from '../userdb/admin-store.js';
import type { SessionRegistry } from '../userdb/session-registry.js';
import type { UserStore } from '../userdb/store.js';

export interface AdminCertificate {
  cert: string;
  key: string;
  source: Certificate['source'];
}

/** The login bans (of the process, or of every worker of a cluster). */
export interface BanControl {
  /** The table admin logins count in (and are refused by). */
  throttle: LoginThrottle;
  /** Bans `address` until `until` everywhere. */
  impose(address: string, until: number): void;
  /** Lifts the ban of the address's network everywhere. */
  unban(address: string): void;
  /** An admin login failed from `address`: counted everywhere. */
  failure(address: string): void;
}

/** A worker of a cluster, for the status. */
export interface WorkerStatus {
  worker: number;
  pid: number | undefined;
  state: 'listening' | 'starting';
  sessions: number;
}

export interface AdminHost {
  version: string;
  log: Logger;
  /** The live sessions (of every worker in cluster mode). */
  sessions: SessionSource;
  /** The login bans; undefined when they are off (`security.ban: false`). */
  bans(): BanControl | undefined;
  /** Calls `listener` when a ban starts by itself (failed logins, on any worker). */
  onBanStarted(listener: () => void): void;
  /** The cluster's workers; one entry (this process) without a cluster. */
  workers(): WorkerStatus[];
  /** Sessions of an FTP user now (the caps' count). */
  userSessions(user: string): number;
  /** The admin settings in force (read at each request: a reload applies). */
  settings(): AdminSettings;
  /** The certificate in force. */
  certificate(): AdminCertificate;
  /** The FTP listeners. */
  listeners: { explicit: AddressInfo[]; implicit: AddressInfo[] };
  /** Reloads the config file (as SIGHUP does). */
  reload(reason: string): Promise<ConfigReloadResult & { workers?: unknown[] }>;
  /** The limits in force, for the status. */
  limits(): unknown;
  /** The FTP accounts of the config file (no passwords). */
  users(): { name: string; home: string; readOnly: boolean }[];
  /** The last reload's result (undefined: none yet). */
  lastReload(): unknown;
  /** With a user database (`--user-db`): admins, users and every node's sessions live there. */
  userDb?: AdminUserDb;
}

/** What the console uses of the user database. */
export interface AdminUserDb {
  /** Admin accounts, the console's browser sessions and tokens (hashed). */
  admins: AdminStore;
  /** The FTP users (a change reaches every node by NOTIFY). */
  users: UserStore;
  /** Every node's live sessions; ending one on another node. */
  registry: SessionRegistry;
}

/** A running admin console. */
export interface AdminHandle {
  address: AddressInfo;
  updateTls(material: { cert: string; key: string }): void;
  close(): Promise<void>;
}

export type AdminStarter = (host: AdminHost, address: ListenAddress) => Promise<AdminHandle>;

/** Whether a listen address is loopback (127.0.0.0/8, ::1, localhost): plain HTTP is allowed only there. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host) || /^::ffff:127\./.test(host);
}

/**
 * Starts the console on `listen` for `host` (a single process's or a cluster primary's): its
 * start-up checks (plain HTTP only on loopback), and a listen failure as one clear line.
 */
export async function startAdminOn(starter: AdminStarter | undefined, listen: ListenAddress, host: AdminHost): Promise<AdminHandle & { url: string }> {
  if (!starter) throw ConfigError.of('adminListen', 'this program has no admin console');
  if (!host.settings().tls && !isLoopbackHost(listen.host)) throw ConfigError.of('admin.tls', `false is allowed only when adminListen is a loopback address (not ${listen.host})`);
  try {
    const handle = await starter(host, listen);
    const scheme = host.settings().tls ? 'https' : 'http';
    return { ...handle, url: `${scheme}://${formatAddress(handle.address.address, handle.address.port)}/` };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall === 'listen') throw new Error(`cannot listen for the admin console on ${formatAddress(listen.host, listen.port)}: ${errnoText(err)}`, { cause: err });
    throw err;
  }
}
