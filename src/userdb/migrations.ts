/**
 * The user database's schema, created and migrated by ftpsd itself at start (and by `ftpsd user`/`ftpsd
 * ban`): numbered migrations, each applied once in its own transaction and recorded in
 * `ftpsd_schema_migrations`. Several nodes starting at once are safe: the whole run holds a session-level
 * advisory lock (`pg_advisory_lock`), so one node migrates while the others wait and then find nothing
 * to do. A database migrated by a newer ftpsd (a version this one does not know) is refused.
 *
 * Changes to users and bans notify every node (triggers -> `pg_notify`), whoever made them: `ftpsd user`,
 * `ftpsd ban`, or SQL by hand.
 */
import type pg from 'pg';

/** The advisory lock key of migrations ('ftpsd' in ASCII). */
export const MIGRATION_LOCK = 0x6674707364;

/** Notification channels: a user's name changed; a ban (JSON `{network, until}` or `{network, lifted: true}`). */
export const USERS_CHANNEL = 'ftpsd_users';
export const BANS_CHANNEL = 'ftpsd_bans';
/** An admin asks a node to end one of its sessions: JSON `{node, id}` (session-registry.ts). */
export const END_SESSION_CHANNEL = 'ftpsd_end_session';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, login failures, bans, quota usage; notifications',
    sql: `
      create table ftpsd_users (
        name text primary key check (name <> '' and length(name) <= 255),
        password_hash text not null,
        home text,
        read_only boolean not null default false,
        permissions text[],
        rules jsonb not null default '[]'::jsonb,
        quota_bytes bigint check (quota_bytes >= 0),
        quota_files bigint check (quota_files >= 0),
        enabled boolean not null default true,
        allowed_networks text[],
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
      create table ftpsd_login_failures (
        network text not null,
        at timestamptz not null default now()
      );
      create index ftpsd_login_failures_network_at on ftpsd_login_failures (network, at);
      create table ftpsd_bans (
        network text primary key,
        until timestamptz not null,
        failures integer not null default 0,
        created_at timestamptz not null default now()
      );
      create table ftpsd_quota_usage (
        name text primary key references ftpsd_users (name) on delete cascade,
        bytes bigint not null default 0,
        files bigint not null default 0
      );
      create function ftpsd_notify_user() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' then
          perform pg_notify('${USERS_CHANNEL}', old.name);
        else
          perform pg_notify('${USERS_CHANNEL}', new.name);
        end if;
        return null;
      end $$;
      create trigger ftpsd_users_notify after insert or update or delete on ftpsd_users
        for each row execute function ftpsd_notify_user();
      create function ftpsd_notify_ban() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' then
          perform pg_notify('${BANS_CHANNEL}', json_build_object('network', old.network, 'lifted', true)::text);
        else
          perform pg_notify('${BANS_CHANNEL}', json_build_object('network', new.network, 'until', (extract(epoch from new.until) * 1000)::bigint)::text);
        end if;
        return null;
      end $$;
      create trigger ftpsd_bans_notify after insert or update or delete on ftpsd_bans
        for each row execute function ftpsd_notify_ban();
    `,
  },
  {
    version: 2,
    description: 'sessions per user on each node (caps across nodes)',
    sql: `
      create table ftpsd_node_sessions (
        node text not null,
        name text not null,
        sessions integer not null,
        seen_at timestamptz not null default now(),
        primary key (node, name)
      );
    `,
  },
  {
    version: 3,
    description: 'admin console: admin accounts, its sessions and tokens (hashed), every node\'s live sessions',
    sql: `
      create table ftpsd_admins (
        name text primary key check (name <> '' and length(name) <= 64),
        password_hash text not null,
        created_at timestamptz not null default now()
      );
      create table ftpsd_admin_sessions (
        hash text primary key,
        admin text not null,
        expires_at timestamptz not null
      );
      create index ftpsd_admin_sessions_admin on ftpsd_admin_sessions (admin);
      create table ftpsd_admin_tokens (
        id text primary key,
        hash text not null,
        admin text not null,
        label text not null,
        created_at timestamptz not null default now()
      );
      create table ftpsd_live_sessions (
        node text not null,
        id text not null,
        info jsonb not null,
        seen_at timestamptz not null default now(),
        primary key (node, id)
      );
    `,
  },
  {
    version: 4,
    description: 'login by client certificate: login mode and certificate pins per user',
    sql: `
      alter table ftpsd_users
        add column login text not null default 'password' check (login in ('password', 'certificate', 'certificate+password')),
        add column certificates text[],
        alter column password_hash drop not null;
      alter table ftpsd_users add constraint ftpsd_users_password_needed check (password_hash is not null or login = 'certificate');
    `,
  },
];

/** The newest schema version this ftpsd knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Brings the schema up to date; resolves to the versions applied by this call (empty: nothing to do). */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(`create table if not exists ftpsd_schema_migrations (
      version integer primary key, description text not null, applied_at timestamptz not null default now())`);
    const { rows } = await client.query<{ version: number }>('select version from ftpsd_schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    if (newest > SCHEMA_VERSION) {
      throw new Error(`the user database has schema version ${newest}, newer than this ftpsd knows (${SCHEMA_VERSION}): upgrade ftpsd`);
    }
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      await client.query('begin');
      try {
        await client.query(m.sql);
        await client.query('insert into ftpsd_schema_migrations (version, description) values ($1, $2)', [m.version, m.description]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
}
