/**
 * Connecting to the user database: a `postgres://` (or `postgresql://`) URL; the password comes from the
 * URL, else `PGPASSWORD`, else the file named by `FTPSD_USER_DB_PASSWORD_FILE` (its first line), else
 * the password file libpq reads (`PGPASSFILE`, default `~/.pgpass`). Every
 * connection and statement has a timeout, so an unreachable database fails in seconds, never hangs.
 * `redactUrl` is the only form of the URL that may reach a log or an error: it has no password.
 */
import { readFileSync } from 'node:fs';
import type pg from 'pg';

/** pg, loaded when a node or command first connects (a server without a user database never does). */
export const loadPg = async (): Promise<typeof pg> => (await import('pg')).default;

/** The variable holding the user database URL (like `--user-db` and `userDb:`). */
export const USER_DB_ENV = 'FTPSD_USER_DB';

/** The variable naming a file whose first line is the database password. */
export const PASSWORD_FILE_ENV = 'FTPSD_USER_DB_PASSWORD_FILE';

/** How long a connection attempt may take, and one statement. */
export const CONNECT_TIMEOUT_MS = 5_000;
export const STATEMENT_TIMEOUT_MS = 10_000;

/** The URL without its password (for logs, errors and the banner). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Throws a one-line error naming what is wrong with the URL (never the URL itself). */
export function checkUserDbUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('the user database URL is not a URL: expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`the user database URL must start with postgres:// (not ${u.protocol}//)`);
  if (!u.hostname && !u.searchParams.get('host')) throw new Error('the user database URL names no host');
}

/** What the pool and the listener connect with (the password left to pg: URL, PGPASSWORD, then the pgpass file). */
export function clientConfig(url: string, env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  checkUserDbUrl(url);
  const file = env[PASSWORD_FILE_ENV];
  const u = new URL(url);
  // (pg takes the URL's password over a `password` field, so the file's goes into the URL.)
  if (!u.password && env.PGPASSWORD === undefined && file) u.password = encodeURIComponent(passwordFromFile(file));
  return {
    connectionString: u.toString(),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS + 1_000,
    application_name: 'ftpsd',
    keepAlive: true,
  };
}

function passwordFromFile(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n')[0]!.replace(/\r$/, '');
  } catch (err) {
    throw new Error(`cannot read the user database password file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** A small pool; its 'error' event (an idle client lost) is logged by the caller, never unhandled. */
export async function openPool(url: string, onError: (err: Error) => void, max = 10): Promise<pg.Pool> {
  const { Pool } = await loadPg();
  const pool = new Pool({ ...clientConfig(url), max, idleTimeoutMillis: 30_000 });
  pool.on('error', onError);
  return pool;
}

/** A one-line description of a connection failure, without the URL. */
export function dbErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { code?: string };
  if (e?.code === 'ECONNREFUSED') return 'connection refused';
  if (e?.code === 'ENOTFOUND') return 'host not found';
  if (e?.code === '28P01') return 'password authentication failed';
  if (e?.code === '3D000') return 'database does not exist';
  const msg = e instanceof Error ? e.message : String(err);
  if (msg.includes('client password must be a string')) return `the database asks for a password and none was given (URL, PGPASSWORD or ${PASSWORD_FILE_ENV})`;
  return msg.split('\n')[0]!.replace(/postgres(ql)?:\/\/\S+/g, '(url)');
}
