/**
 * `ftpsd admin add|remove|list`: the admin console's accounts in the user database (`--user-db URL` or
 * FTPSD_USER_DB), beside those of `admin.users` in the config file; a name in both stops a node's start.
 * Errors are one line, exit code 1 (a duplicate, a missing admin, an unreachable database); a missing URL
 * or a bad flag is 2. `add` reads the password from stdin (`--password-stdin`), or generates one and
 * prints it once, alone on stdout. `remove` also ends the admin's console sessions and revokes its tokens.
 */
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../auth/password.js';
import { UsageError } from '../runtime/exit.js';
import { AdminStore } from '../userdb/admin-store.js';
import type { UserStore } from '../userdb/store.js';
import { openStore } from './user.js';
import { readSecret } from './read-secret.js';

export interface AdminFlags {
  userDb?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

/** The same rule as the console's login body (`name`: at most 64 characters). */
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;

async function withAdmins<T>(flags: AdminFlags, fn: (admins: AdminStore) => Promise<T>): Promise<T> {
  const store: UserStore = await openStore(flags);
  try {
    return await fn(new AdminStore(store.pool));
  } finally {
    await store.close().catch(() => undefined);
  }
}

export async function adminAddCommand(name: string, flags: AdminFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!NAME.test(name)) throw new UsageError(`bad admin name ${JSON.stringify(name)}: letters, digits and . _ @ - only, at most 64`);
  let password: string;
  const generated = !flags.passwordStdin;
  if (generated) {
    password = randomBytes(18).toString('base64url');
  } else {
    password = await readSecret('Password: ');
    if (password === '') throw new UsageError('password must not be empty');
  }
  const hash = await hashPassword(password);
  await withAdmins(flags, (admins) => admins.add(name, hash));
  if (generated) {
    out.write(`${password}\n`);
    process.stderr.write(`admin ${JSON.stringify(name)} added; its generated password (on stdout) is not shown again\n`);
  } else {
    out.write(`admin ${JSON.stringify(name)} added\n`);
  }
}

export async function adminRemoveCommand(name: string, flags: AdminFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  await withAdmins(flags, (admins) => admins.remove(name));
  out.write(`admin ${JSON.stringify(name)} removed\n`);
}

export async function adminListCommand(flags: AdminFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const list = await withAdmins(flags, (admins) => admins.list());
  if (flags.json) {
    out.write(`${JSON.stringify(list, null, 2)}\n`);
    return;
  }
  const width = Math.max(4, ...list.map((a) => a.name.length));
  out.write(`${'NAME'.padEnd(width)}  CREATED\n`);
  for (const a of list) out.write(`${a.name.padEnd(width)}  ${a.created}\n`);
}
