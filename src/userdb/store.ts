/**
 * The user database's queries: users (add, change, remove, list, one by name), login failures and bans
 * shared by every node, quota usage per user, and each node's session counts. Every call is one short
 * statement (or one transaction) on a pooled connection with a timeout (connect.ts); errors carry no URL.
 */
import type pg from 'pg';
import type { Permission } from '../auth/permissions.js';
import type { PermissionRule } from '../auth/rules.js';
import type { LoginMethod } from '../auth/users.js';
import { migrate } from './migrations.js';
import { openPool } from './connect.js';

/** A user as the database holds it. */
export interface DbUser {
  readonly name: string;
  /** argon2id PHC string; null only for a user who logs in by certificate alone. */
  readonly passwordHash: string | null;
  /** Absolute home directory; null: `<root>/<name>` on each node. */
  readonly home: string | null;
  readonly readOnly: boolean;
  /** Base permissions; null: every permission (list + read when read-only). */
  readonly permissions: readonly Permission[] | null;
  readonly rules: readonly PermissionRule[];
  readonly quotaBytes: number | null;
  readonly quotaFiles: number | null;
  readonly enabled: boolean;
  /** CIDRs the user may log in from; null: anywhere. */
  readonly allowedNetworks: readonly string[] | null;
  /** How the user logs in: by password (default), by a client certificate alone, or both. */
  readonly login: LoginMethod;
  /** SHA-256 fingerprints of the client certificates that may vouch for the user; null: any verified one naming them. */
  readonly certificates: readonly string[] | null;
}

/** What `ftpsd user set` may change (absent: unchanged; null: back to the default). */
export type DbUserChanges = Partial<Omit<DbUser, 'name'>>;

export class UserExistsError extends Error {
  constructor(name: string) {
    super(`user ${JSON.stringify(name)} already exists`);
  }
}
export class NoSuchUserError extends Error {
  constructor(name: string) {
    super(`no user ${JSON.stringify(name)}`);
  }
}

export interface Ban {
  readonly network: string;
  readonly until: number;
  readonly failures: number;
}

interface UserRow {
  name: string;
  password_hash: string | null;
  home: string | null;
  read_only: boolean;
  permissions: string[] | null;
  rules: PermissionRule[];
  quota_bytes: string | null;
  quota_files: string | null;
  enabled: boolean;
  allowed_networks: string[] | null;
  login: LoginMethod;
  certificates: string[] | null;
}

const COLUMNS = 'name, password_hash, home, read_only, permissions, rules, quota_bytes, quota_files, enabled, allowed_networks, login, certificates';

function toUser(r: UserRow): DbUser {
  return {
    name: r.name,
    passwordHash: r.password_hash,
    home: r.home,
    readOnly: r.read_only,
    permissions: r.permissions as Permission[] | null,
    rules: r.rules ?? [],
    quotaBytes: r.quota_bytes === null ? null : Number(r.quota_bytes),
    quotaFiles: r.quota_files === null ? null : Number(r.quota_files),
    enabled: r.enabled,
    allowedNetworks: r.allowed_networks,
    login: r.login,
    certificates: r.certificates,
  };
}

const FIELD_COLUMNS: Record<keyof DbUserChanges, string> = {
  passwordHash: 'password_hash',
  home: 'home',
  readOnly: 'read_only',
  permissions: 'permissions',
  rules: 'rules',
  quotaBytes: 'quota_bytes',
  quotaFiles: 'quota_files',
  enabled: 'enabled',
  allowedNetworks: 'allowed_networks',
  login: 'login',
  certificates: 'certificates',
};

function columnValue(field: keyof DbUserChanges, value: unknown): unknown {
  return field === 'rules' ? JSON.stringify(value ?? []) : value;
}

export class UserStore {
  private constructor(readonly pool: pg.Pool) {}

  /** Connects and brings the schema up to date (migrations.ts). Throws when the database cannot be reached. */
  static async open(url: string, onError: (err: Error) => void = () => undefined, max = 10): Promise<UserStore> {
    const pool = await openPool(url, onError, max);
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return new UserStore(pool);
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  // --- users ---------------------------------------------------------------------------------

  async get(name: string): Promise<DbUser | undefined> {
    const { rows } = await this.pool.query<UserRow>(`select ${COLUMNS} from ftpsd_users where name = $1`, [name]);
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async list(): Promise<DbUser[]> {
    const { rows } = await this.pool.query<UserRow>(`select ${COLUMNS} from ftpsd_users order by name`);
    return rows.map(toUser);
  }

  async names(): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>('select name from ftpsd_users');
    return rows.map((r) => r.name);
  }

  async add(user: DbUser): Promise<void> {
    try {
      await this.pool.query(
        `insert into ftpsd_users (${COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [user.name, user.passwordHash, user.home, user.readOnly, user.permissions, JSON.stringify(user.rules), user.quotaBytes, user.quotaFiles, user.enabled, user.allowedNetworks, user.login, user.certificates],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new UserExistsError(user.name);
      throw err;
    }
  }

  async set(name: string, changes: DbUserChanges): Promise<void> {
    const fields = (Object.keys(changes) as (keyof DbUserChanges)[]).filter((f) => changes[f] !== undefined);
    const sets = fields.map((f, i) => `${FIELD_COLUMNS[f]} = $${i + 2}`);
    const values = fields.map((f) => columnValue(f, changes[f]));
    let rowCount: number | null;
    try {
      ({ rowCount } = await this.pool.query(`update ftpsd_users set ${[...sets, 'updated_at = now()'].join(', ')} where name = $1`, [name, ...values]));
    } catch (err) {
      // ftpsd_users_password_needed: a login by password for a user who has none.
      if ((err as { code?: string }).code === '23514') throw new Error(`user ${JSON.stringify(name)} has no password: give one with --password-stdin`, { cause: err });
      throw err;
    }
    if (rowCount === 0) throw new NoSuchUserError(name);
  }

  async remove(name: string): Promise<void> {
    const { rowCount } = await this.pool.query('delete from ftpsd_users where name = $1', [name]);
    if (rowCount === 0) throw new NoSuchUserError(name);
  }

  // --- login failures and bans ---------------------------------------------------------------

  /**
   * Counts a failed login from `network` (as every node counts it) and, when it makes `failures` within
   * `windowMs`, bans the network for `durationMs`; resolves to the ban's end when this call started it.
   * One transaction under a per-network advisory lock, so two nodes cannot both start the ban.
   */
  async recordFailure(network: string, policy: { failures: number; windowMs: number; durationMs: number }): Promise<number | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await client.query('select pg_advisory_xact_lock(hashtext($1))', [`ftpsd-ban:${network}`]);
      const banned = await client.query('select 1 from ftpsd_bans where network = $1 and until > now()', [network]);
      if (banned.rowCount) {
        await client.query('commit');
        return undefined;
      }
      await client.query('delete from ftpsd_login_failures where network = $1 and at <= now() - make_interval(secs => $2)', [network, policy.windowMs / 1000]);
      await client.query('insert into ftpsd_login_failures (network) values ($1)', [network]);
      const { rows } = await client.query<{ n: string }>('select count(*) as n from ftpsd_login_failures where network = $1', [network]);
      const count = Number(rows[0]!.n);
      let until: number | undefined;
      if (count >= policy.failures) {
        const r = await client.query<{ until: Date }>(
          `insert into ftpsd_bans (network, until, failures) values ($1, now() + make_interval(secs => $2), $3)
           on conflict (network) do update set until = excluded.until, failures = excluded.failures, created_at = now() returning until`,
          [network, policy.durationMs / 1000, count],
        );
        await client.query('delete from ftpsd_login_failures where network = $1', [network]);
        until = r.rows[0]!.until.getTime();
      }
      await client.query('commit');
      return until;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Bans in force (expired ones are removed first). */
  async bans(): Promise<Ban[]> {
    await this.pool.query('delete from ftpsd_bans where until <= now()');
    const { rows } = await this.pool.query<{ network: string; until: Date; failures: number }>('select network, until, failures from ftpsd_bans order by until');
    return rows.map((r) => ({ network: r.network, until: r.until.getTime(), failures: r.failures }));
  }

  /** Bans `network` until `until` (ms since the epoch) on every node (an admin's ban; the trigger notifies). */
  async ban(network: string, until: number): Promise<void> {
    await this.pool.query(
      `insert into ftpsd_bans (network, until) values ($1, to_timestamp($2 / 1000.0))
       on conflict (network) do update set until = excluded.until, created_at = now()`,
      [network, until],
    );
  }

  /** Lifts the ban of `network` and forgets its failures; false when it was not banned. */
  async unban(network: string): Promise<boolean> {
    await this.pool.query('delete from ftpsd_login_failures where network = $1', [network]);
    const { rowCount } = await this.pool.query('delete from ftpsd_bans where network = $1', [network]);
    return (rowCount ?? 0) > 0;
  }

  // --- quota usage ---------------------------------------------------------------------------

  /** The usage recorded for `name`, or undefined when none is yet. */
  async usage(name: string): Promise<{ bytes: number; files: number } | undefined> {
    const { rows } = await this.pool.query<{ bytes: string; files: string }>('select bytes, files from ftpsd_quota_usage where name = $1', [name]);
    return rows[0] ? { bytes: Number(rows[0].bytes), files: Number(rows[0].files) } : undefined;
  }

  /** Records a first figure (from a walk of the home) unless a node did already; resolves to the figure kept. */
  async initUsage(name: string, bytes: number, files: number): Promise<{ bytes: number; files: number }> {
    await this.pool.query('insert into ftpsd_quota_usage (name, bytes, files) values ($1, $2, $3) on conflict (name) do nothing', [name, bytes, files]);
    return (await this.usage(name)) ?? { bytes, files };
  }

  /** Adds a change (an upload's commit, a delete) to the usage; resolves to the new figure. */
  async applyUsage(name: string, bytes: number, files: number): Promise<{ bytes: number; files: number } | undefined> {
    const { rows } = await this.pool.query<{ bytes: string; files: string }>(
      'update ftpsd_quota_usage set bytes = greatest(0, bytes + $2), files = greatest(0, files + $3) where name = $1 returning bytes, files',
      [name, bytes, files],
    );
    return rows[0] ? { bytes: Number(rows[0].bytes), files: Number(rows[0].files) } : undefined;
  }

  // --- sessions per node ---------------------------------------------------------------------

  /** Replaces this node's session counts per user. */
  async publishSessions(node: string, counts: ReadonlyMap<string, number>): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await client.query('delete from ftpsd_node_sessions where node = $1', [node]);
      for (const [name, n] of counts) {
        await client.query('insert into ftpsd_node_sessions (node, name, sessions) values ($1, $2, $3)', [node, name, n]);
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Sessions per user on the other nodes (rows older than `staleMs` are a node that is gone). */
  async peerSessions(node: string, staleMs: number): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ name: string; n: string }>(
      `select name, sum(sessions) as n from ftpsd_node_sessions where node <> $1 and seen_at > now() - make_interval(secs => $2) group by name`,
      [node, staleMs / 1000],
    );
    return new Map(rows.map((r) => [r.name, Number(r.n)]));
  }

  /** Marks this node's rows as fresh (a heartbeat), without changing them. */
  async touchSessions(node: string): Promise<void> {
    await this.pool.query('update ftpsd_node_sessions set seen_at = now() where node = $1', [node]);
  }
}
