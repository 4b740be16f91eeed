/**
 * `ftpsd serve`'s admin console in a single process: started when `adminListen` is set, with what it
 * needs from the running server (runtime/admin-host.ts). In cluster mode the primary runs the console
 * (src/cluster/cluster-admin.ts) and the workers none. With a user database it also gets the database's
 * admins, users and every node's sessions; an admin name in both `admin.users` and the database stops
 * the start.
 */
import type { AddressInfo } from 'node:net';
import { adminSettings } from '../config/admin-schema.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../logger.js';
import type { FtpServer } from '../server.js';
import { startAdminOn, type AdminCertificate, type AdminHandle, type AdminStarter, type BanControl } from './admin-host.js';
import type { ConfigReloader } from './config-reload.js';
import { LocalSessions } from './session-directory.js';
import type { UserDbLink } from './user-db.js';

export interface AdminParts {
  server: FtpServer;
  config: ResolvedConfig;
  configReloader: ConfigReloader;
  logger: Logger;
  addresses: { explicit: AddressInfo[]; implicit: AddressInfo[] };
  tls: () => AdminCertificate;
  /** The user database, when one is configured: admins, users and sessions of every node. */
  userDb?: UserDbLink;
}

/** The running console and its URL, or undefined when `adminListen` is not set (or in a cluster worker). */
export async function startAdmin(
  ctx: { version: string; admin?: AdminStarter; worker?: unknown },
  parts: AdminParts,
): Promise<(AdminHandle & { url: string }) | undefined> {
  const listen = parts.config.adminListen;
  // A cluster's console is the primary's.
  if (!listen || ctx.worker) return undefined;
  const { configReloader: reloader, server } = parts;
  let lastReload: unknown;
  const userDb = parts.userDb;
  if (userDb) await (await import('./admin-db.js')).adminClashes(userDb, adminSettings(reloader.config.admin).users.map((u) => u.name));
  return startAdminOn(ctx.admin, listen, {
    version: ctx.version,
    log: parts.logger.child({ component: 'admin' }),
    sessions: new LocalSessions(server),
    bans: () => localBans(server),
    onBanStarted: (listener) => server.events.on('login-attempt', (e) => void (e.banStarted && listener())),
    workers: () => [{ worker: 1, pid: process.pid, state: 'listening', sessions: server.sessions.size }],
    userSessions: (user) => server.userSessions(user),
    settings: () => adminSettings(reloader.config.admin),
    certificate: parts.tls,
    listeners: parts.addresses,
    reload: async (reason) => {
      const result = await reloader.reload(reason);
      lastReload = { ...result, at: new Date().toISOString(), reason };
      return result;
    },
    limits: () => server.settings.limits,
    users: () => reloader.config.users.map((u) => ({ name: u.name, home: u.home, readOnly: u.readOnly })),
    lastReload: () => lastReload ?? null,
    ...(userDb ? { userDb: { admins: userDb.admins, users: userDb.store, registry: userDb.registry } } : {}),
  });
}

/** The bans of this process's server. */
function localBans(server: FtpServer): BanControl | undefined {
  const throttle = server.throttle;
  if (!throttle) return undefined;
  return {
    throttle,
    impose: (address, until) => throttle.impose(address, until),
    unban: (address) => throttle.unban(address),
    failure: (address) => void throttle.recordFailure(address),
  };
}
