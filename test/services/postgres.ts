/**
 * An ephemeral PostgreSQL for tests: `initdb` into a temp dir, `postgres` on 127.0.0.1 at a free port
 * (bind port 0, read it, close, start on it) with its unix socket in the temp dir, fsync off, one
 * database, and a role with a password (scram-sha-256 over TCP), so the URL tests carry a password.
 *
 * initdb and postgres refuse to run as root: as root (CI) they run as the `postgres` system user that
 * Debian's package creates (`runuser -u postgres`), and the temp dir is given to it. Skipped, with the
 * reason, when the binaries are not there (`postgresBin()` is undefined): `.ci/run` installs them.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pgLib from 'pg';
type PgClient = pgLib.Client;
import { afterAll, beforeAll } from 'vitest';
import { freePort } from '../ops/service-helpers.js';

const run = promisify(execFile);

/** The directory of Debian's PostgreSQL binaries (the newest installed), or undefined. */
export function postgresBin(): string | undefined {
  for (const v of ['17', '16', '15', '14', '13']) {
    const dir = `/usr/lib/postgresql/${v}/bin`;
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  return undefined;
}

export interface TestPostgres {
  /** `postgres://ftpsd:PASSWORD@127.0.0.1:PORT/ftpsd_test` */
  readonly url: string;
  /** The same URL without the password (for PGPASSWORD and password-file tests). */
  readonly urlWithoutPassword: string;
  readonly password: string;
  readonly port: number;
  /** Stops the server (fast), keeping its data: `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Bytes of the quota usage the database holds for `user` (undefined: none yet). */
  usage(user: string): Promise<number | undefined>;
  /** Stops it and removes everything. */
  close(): Promise<void>;
}

const USER = 'ftpsd';
const DB = 'ftpsd_test';

function asPostgres(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('running as root and there is no "postgres" user to run PostgreSQL as');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
async function pg(bin: string, tool: string, args: string[], asUser: boolean): Promise<string> {
  const [cmd, argv] = asUser ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  try {
    const { stdout } = await run(cmd, argv, { timeout: 30_000, env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${tool} failed: ${e.stderr?.trim() || e.message}`);
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install -y postgresql)');
  const owner = asPostgres();
  const dir = await mkdtemp(join(tmpdir(), 'ftpsd-pg-'));
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'pw');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    await chown(dir, owner.uid, owner.gid);
    await chown(pwfile, owner.uid, owner.gid);
  }
  const as = owner !== undefined;
  await pg(bin, 'initdb', ['-D', data, '-U', USER, `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync', '--no-instructions'], as);
  await rm(pwfile, { force: true });
  let port = 0;
  const options = () => `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  const start = () => pg(bin, 'pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o', options(), 'start'], as).then(() => undefined);
  const stop = () => pg(bin, 'pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'], as).then(() => undefined);
  // The free port may be taken between its probe and the server's bind (another service starting at
  // the same time): then another port.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (err) {
      const log = await readFile(join(dir, 'log'), 'utf8').catch(() => '');
      if (attempt >= 3 || !log.includes('could not bind')) throw err;
      await writeFile(join(dir, 'log'), '');
    }
  }
  await pg(bin, 'createdb', ['-h', dir, '-p', String(port), '-U', USER, DB], as);
  let closed = false;
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/${DB}`,
    urlWithoutPassword: `postgres://${USER}@127.0.0.1:${port}/${DB}`,
    password,
    port,
    stop,
    start,
    async usage(user: string) {
      const out = await pg(bin, 'psql', ['-h', dir, '-p', String(port), '-U', USER, '-d', DB, '-At', '-c', `select bytes from ftpsd_quota_usage where name = '${user.replace(/'/g, "''")}'`], as);
      return out.trim() === '' ? undefined : Number(out.trim());
    },
    async close() {
      if (closed) return;
      closed = true;
      await pg(bin, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], as).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * In a describe block: a PostgreSQL started before its tests (startPostgres) and a connected PgClient on
 * it (`sql`, for checking rows), both closed after them. Read `db` and `sql` inside tests and hooks.
 */
export function usingPostgres(): { readonly db: TestPostgres; readonly sql: PgClient } {
  let db: TestPostgres | undefined;
  let sql: PgClient | undefined;
  beforeAll(async () => {
    db = await startPostgres();
    const client = new pgLib.Client({ connectionString: db.url, connectionTimeoutMillis: 5000, query_timeout: 10_000 });
    await client.connect();
    sql = client;
  }, 60_000);
  afterAll(async () => {
    await sql?.end().catch(() => undefined);
    await db?.close();
  });
  return {
    get db() {
      if (!db) throw new Error('usingPostgres: the database is not started yet (read db inside a test or hook)');
      return db;
    },
    get sql() {
      if (!sql) throw new Error('usingPostgres: the database is not started yet (read sql inside a test or hook)');
      return sql;
    },
  };
}
