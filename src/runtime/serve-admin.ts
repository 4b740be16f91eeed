/**
 * `ftpsd serve`'s admin console: started when `adminListen` is set, with what it needs from the running
 * server (runtime/admin-host.ts). Not yet in cluster mode (each worker would answer for its own sessions).
 * With a user database it also gets the database's admins, users and every node's sessions; an admin
 * name in both `admin.users` and the database stops the start.
 */
import type { AddressInfo } from 'node:net';
import { adminSettings } from '../config/admin-schema.js';
import { ConfigError } from '../config/errors.js';
import { errnoText } from '../config/errno-text.js';
import { formatAddress } from '../config/listen-address.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../logger.js';
import type { FtpServer } from '../server.js';
import { isLoopbackHost, type AdminCertificate, type AdminHandle, type AdminStarter } from './admin-host.js';
import type { ConfigReloader } from './config-reload.js';
import type { UserDbLink } from './user-db.js';
import { dbErrorText } from '../userdb/connect.js';

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

/** The running console and its URL, or undefined when `adminListen` is not set. */
export async function startAdmin(
  ctx: { version: string; admin?: AdminStarter; worker?: unknown },
  parts: AdminParts,
): Promise<(AdminHandle & { url: string }) | undefined> {
  const listen = parts.config.adminListen;
  if (!listen) return undefined;
  if (ctx.worker) throw ConfigError.of('adminListen', 'is not available in cluster mode yet (set workers: 1)');
  if (!ctx.admin) throw ConfigError.of('adminListen', 'this program has no admin console');
  const { configReloader: reloader, server } = parts;
  let lastReload: unknown;
  const settings = () => adminSettings(reloader.config.admin);
  if (!settings().tls && !isLoopbackHost(listen.host)) throw ConfigError.of('admin.tls', `false is allowed only when adminListen is a loopback address (not ${listen.host})`);
  const userDb = parts.userDb;
  if (userDb) await adminClashes(userDb, settings().users.map((u) => u.name));
  try {
    const handle = await ctx.admin(
      {
        version: ctx.version,
        server,
        log: parts.logger.child({ component: 'admin' }),
        settings,
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
      },
      listen,
    );
    const scheme = settings().tls ? 'https' : 'http';
    return { ...handle, url: `${scheme}://${formatAddress(handle.address.address, handle.address.port)}/` };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall === 'listen') throw new Error(`cannot listen for the admin console on ${formatAddress(listen.host, listen.port)}: ${errnoText(err)}`, { cause: err });
    throw err;
  }
}

/** A name in both `admin.users` and the database's admins is a start-up error, as for FTP users. */
async function adminClashes(userDb: UserDbLink, configNames: readonly string[]): Promise<void> {
  let names: string[];
  try {
    names = (await userDb.admins.list()).map((a) => a.name);
  } catch (err) {
    throw new Error(`user database: ${dbErrorText(err)}`, { cause: err });
  }
  const both = names.filter((n) => configNames.includes(n)).sort();
  if (both.length > 0) throw new Error(`admin${both.length > 1 ? 's' : ''} ${both.join(', ')} in both the config file (admin.users) and the user database: remove one`);
}
