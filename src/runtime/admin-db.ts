/**
 * The admin console's use of the user database: the start-up check that no admin is in both
 * `admin.users` and the database, and, for a cluster's primary (which runs no FTP server and so has no
 * node link of runtime/user-db.ts), a link of its own: the stores only (admins, users, every node's
 * sessions), loaded only when the primary serves the console on a user database.
 */
import type { Logger } from '../logger.js';
import { AdminStore } from '../userdb/admin-store.js';
import { dbErrorText, redactUrl } from '../userdb/connect.js';
import { SessionRegistry } from '../userdb/session-registry.js';
import { UserStore } from '../userdb/store.js';
import type { AdminUserDb } from './admin-host.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** A name in both `admin.users` and the database's admins is a start-up error, as for FTP users. */
export async function adminClashes(db: { admins: AdminStore }, configNames: readonly string[]): Promise<void> {
  let names: string[];
  try {
    names = (await db.admins.list()).map((a) => a.name);
  } catch (err) {
    throw new Error(`user database: ${dbErrorText(err)}`, { cause: err });
  }
  const both = names.filter((n) => configNames.includes(n)).sort();
  if (both.length > 0) throw new Error(`admin${both.length > 1 ? 's' : ''} ${both.join(', ')} in both the config file (admin.users) and the user database: remove one`);
}

/** Opens the console's link (migrating the schema as every node does); a one-line error when it cannot. */
export async function openAdminDb(url: string, log: Logger): Promise<AdminUserDb & { close(): Promise<void> }> {
  let users: UserStore;
  try {
    users = await UserStore.open(url, (err) => log.warn({ reason: dbErrorText(err) }, 'user database: an idle connection was lost'), 4);
  } catch (err) {
    throw new Error(`user database ${redactUrl(url)}: ${dbErrorText(err)}`, { cause: err });
  }
  const node = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  return { users, admins: new AdminStore(users.pool), registry: new SessionRegistry(users.pool, node), close: () => users.close() };
}
