/**
 * `ftpsd user add|set|remove|list`: manages the users of the user database from any machine that
 * reaches it (`--user-db URL` or FTPSD_USER_DB). The schema is brought up to date first, as a node does.
 * Running nodes see each change within a second (LISTEN/NOTIFY). Errors are one line, exit code 1
 * (a duplicate, a missing user, a bad home, an unreachable database); a missing URL or a bad flag is 2.
 *
 * `add` without `--password-stdin` generates a password and prints it once, alone on stdout, so a script
 * can take it: `PW=$(ftpsd user add alice)`.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { hashPassword } from '../auth/password.js';
import { defaultPermissions, RulePermissions, type PermissionRule } from '../auth/rules.js';
import { parseNetwork } from '../security/access-list.js';
import { UsageError } from '../runtime/exit.js';
import { USER_DB_ENV, checkUserDbUrl, dbErrorText, redactUrl } from '../userdb/connect.js';
import { UserStore, type DbUser, type DbUserChanges } from '../userdb/store.js';
import { LOGIN_METHODS, type LoginMethod } from '../auth/users.js';
import { readSecret } from './read-secret.js';

export interface UserFlags {
  userDb?: string;
  home?: string;
  readOnly?: boolean;
  quotaBytes?: string;
  quotaFiles?: string;
  passwordStdin?: boolean;
  enable?: boolean;
  disable?: boolean;
  allowedNetworks?: string;
  rules?: string;
  login?: string;
  certificateSha256?: string;
  json?: boolean;
}

/** The database URL from the flag or the variable (a usage error without either). */
export function userDbUrl(flags: { userDb?: string }, env: NodeJS.ProcessEnv = process.env): string {
  const url = flags.userDb ?? env[USER_DB_ENV];
  if (!url) throw new UsageError(`no user database: give --user-db URL or set ${USER_DB_ENV}`);
  return url;
}

/** Opens the store; an unreachable database is one line naming it (without its password). */
export async function openStore(flags: { userDb?: string }): Promise<UserStore> {
  const url = userDbUrl(flags);
  try {
    checkUserDbUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  try {
    return await UserStore.open(url, () => undefined, 2);
  } catch (err) {
    throw new Error(`user database ${redactUrl(url)} unreachable: ${dbErrorText(err)}`, { cause: err });
  }
}

async function withStore<T>(flags: { userDb?: string }, fn: (store: UserStore) => Promise<T>): Promise<T> {
  const store = await openStore(flags);
  try {
    return await fn(store);
  } finally {
    await store.close().catch(() => undefined);
  }
}

const NAME = /^[A-Za-z0-9._@-]{1,255}$/;

function checkName(name: string): void {
  if (!NAME.test(name) || name === '.' || name === '..') throw new UsageError(`bad user name ${JSON.stringify(name)}: letters, digits and . _ @ - only, at most 255`);
}

function checkHome(home: string): string {
  // Below an s3:// root: an s3:// URL inside it (the nodes refuse one outside their root), or a path.
  if (home.startsWith('s3://')) {
    if (!/^s3:\/\/[^/\s]+(\/[^\0\\]*)?$/.test(home) || home.split('/').some((s) => s === '..' || s === '.')) throw new Error(`bad home ${JSON.stringify(home)}: s3://BUCKET/PREFIX without . or .. segments is needed`);
    return home;
  }
  if (!isAbsolute(home) || home.includes('\0')) throw new Error(`bad home ${JSON.stringify(home)}: an absolute path (or an s3:// URL) is needed`);
  try {
    if (!statSync(home).isDirectory()) throw new Error(`bad home ${JSON.stringify(home)}: not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    // Not on this machine: the nodes create it at the first login.
  }
  return home;
}

function count(text: string, flag: string): number | null {
  if (text === 'off' || text === 'none') return null;
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`${flag} must be a whole number of at least 0, or off`);
  return Number(text);
}

function networks(text: string): string[] | null {
  if (text === 'any') return null;
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of list) {
    try {
      parseNetwork(n);
    } catch (err) {
      throw new UsageError(`--allowed-networks: ${(err as Error).message}`);
    }
  }
  return list;
}

function loginMethod(text: string): LoginMethod {
  if (!(LOGIN_METHODS as readonly string[]).includes(text)) throw new UsageError(`--login must be one of ${LOGIN_METHODS.join(', ')}`);
  return text as LoginMethod;
}

/** SHA-256 fingerprints, hex with or without colons, comma-separated; `none`: no pins. */
function pins(text: string): string[] | null {
  if (text === 'none') return null;
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const pin of list) {
    if (!/^[0-9a-fA-F]{64}$/.test(pin.replace(/:/g, ''))) throw new UsageError(`--certificate-sha256: ${JSON.stringify(pin)} is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
  }
  return list.length > 0 ? list.map((p) => p.replace(/:/g, '').toLowerCase()) : null;
}

function rules(text: string, readOnly: boolean): PermissionRule[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('--rules must be a JSON array like [{"path":"/incoming","allow":["write"],"deny":["read"]}]');
  }
  if (!Array.isArray(parsed)) throw new UsageError('--rules must be a JSON array');
  try {
    new RulePermissions(defaultPermissions(readOnly), parsed as PermissionRule[]);
  } catch (err) {
    throw new UsageError(`--rules: ${(err as Error).message}`);
  }
  return parsed as PermissionRule[];
}

async function password(flags: UserFlags): Promise<{ password: string; generated: boolean } | undefined> {
  // A user who logs in by certificate alone needs no password (one given is kept).
  if (!flags.passwordStdin && flags.login === 'certificate') return undefined;
  if (!flags.passwordStdin) return { password: randomBytes(18).toString('base64url'), generated: true };
  const password = await readSecret('Password: ');
  if (password === '') throw new UsageError('password must not be empty');
  return { password, generated: false };
}

/** The fields the flags change (shared by add and set). */
function changesFrom(flags: UserFlags): DbUserChanges {
  if (flags.enable && flags.disable) throw new UsageError('--enable and --disable exclude each other');
  const readOnly = flags.readOnly;
  return {
    ...(flags.home !== undefined ? { home: checkHome(flags.home) } : {}),
    ...(readOnly !== undefined ? { readOnly } : {}),
    ...(flags.quotaBytes !== undefined ? { quotaBytes: count(flags.quotaBytes, '--quota-bytes') } : {}),
    ...(flags.quotaFiles !== undefined ? { quotaFiles: count(flags.quotaFiles, '--quota-files') } : {}),
    ...(flags.enable ? { enabled: true } : flags.disable ? { enabled: false } : {}),
    ...(flags.allowedNetworks !== undefined ? { allowedNetworks: networks(flags.allowedNetworks) } : {}),
    ...(flags.rules !== undefined ? { rules: rules(flags.rules, readOnly ?? false) } : {}),
    ...(flags.login !== undefined ? { login: loginMethod(flags.login) } : {}),
    ...(flags.certificateSha256 !== undefined ? { certificates: pins(flags.certificateSha256) } : {}),
  };
}

export async function userAddCommand(name: string, flags: UserFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  checkName(name);
  const changes = changesFrom(flags);
  const secret = await password(flags);
  const user: DbUser = {
    name,
    passwordHash: secret ? await hashPassword(secret.password) : null,
    home: changes.home ?? null,
    readOnly: changes.readOnly ?? false,
    permissions: null,
    rules: changes.rules ?? [],
    quotaBytes: changes.quotaBytes ?? null,
    quotaFiles: changes.quotaFiles ?? null,
    enabled: changes.enabled ?? true,
    allowedNetworks: changes.allowedNetworks ?? null,
    login: changes.login ?? 'password',
    certificates: changes.certificates ?? null,
  };
  await withStore(flags, (store) => store.add(user));
  if (secret?.generated) {
    out.write(`${secret.password}\n`);
    process.stderr.write(`user ${JSON.stringify(name)} added; its generated password (on stdout) is not shown again\n`);
  } else {
    out.write(`user ${JSON.stringify(name)} added\n`);
  }
}

export async function userSetCommand(name: string, flags: UserFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const changes: DbUserChanges = {
    ...changesFrom(flags),
    ...(flags.passwordStdin ? { passwordHash: await hashPassword((await password(flags))!.password) } : {}),
  };
  if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give at least one flag (see ftpsd user set --help)');
  await withStore(flags, (store) => store.set(name, changes));
  out.write(`user ${JSON.stringify(name)} changed\n`);
}

export async function userRemoveCommand(name: string, flags: UserFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  await withStore(flags, (store) => store.remove(name));
  out.write(`user ${JSON.stringify(name)} removed\n`);
}

export async function userListCommand(flags: UserFlags, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const users = await withStore(flags, (store) => store.list());
  // Never the hashes.
  const shown = users.map(({ passwordHash: _hash, ...rest }) => rest);
  if (flags.json) {
    out.write(`${JSON.stringify(shown, null, 2)}\n`);
    return;
  }
  const rows = [['NAME', 'ENABLED', 'ACCESS', 'LOGIN', 'QUOTA-BYTES', 'HOME'], ...shown.map((u) => [u.name, u.enabled ? 'yes' : 'no', u.readOnly ? 'read-only' : 'read-write', u.login, u.quotaBytes === null ? '-' : String(u.quotaBytes), u.home ?? '(root)/' + u.name])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`);
}
