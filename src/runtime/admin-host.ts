/**
 * What the admin console (src/admin/, a floor above) needs from the running server, and how `ftpsd serve`
 * starts it: the CLI passes a starter in the serve context.
 */
import type { AddressInfo } from 'node:net';
import type { AdminSettings } from '../config/admin-schema.js';
import type { Logger } from '../logger.js';
import type { FtpServer, ListenAddress } from '../server.js';
import type { Certificate } from '../config/certificate.js';
import type { AdminStore } from '../userdb/admin-store.js';
import type { SessionRegistry } from '../userdb/session-registry.js';
import type { UserStore } from '../userdb/store.js';

export interface AdminCertificate {
  cert: string;
  key: string;
  source: Certificate['source'];
}

export interface AdminHost {
  version: string;
  server: FtpServer;
  log: Logger;
  /** The admin settings in force (read at each request: a reload applies). */
  settings(): AdminSettings;
  /** The certificate in force. */
  certificate(): AdminCertificate;
  /** The FTP listeners. */
  listeners: { explicit: AddressInfo[]; implicit: AddressInfo[] };
  /** Reloads the config file (as SIGHUP does). */
  reload(reason: string): Promise<{ ok: true; changed: string[]; restartNeeded: string[] } | { ok: false; error: string }>;
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
