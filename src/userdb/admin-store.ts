/**
 * The admin console's accounts in the user database (migration 3): admin accounts (argon2id hashes, managed
 * with `ftpsd admin add|remove|list`), and the console's browser sessions and bearer tokens, so that any
 * node accepts a login made on another. Only hashes are stored: the SHA-256 of a session cookie, of a
 * token's secret; the values themselves are never written.
 */
import type pg from 'pg';

export class AdminExistsError extends Error {
  constructor(name: string) {
    super(`admin ${JSON.stringify(name)} already exists`);
  }
}
export class NoSuchAdminError extends Error {
  constructor(name: string) {
    super(`no admin ${JSON.stringify(name)}`);
  }
}

export interface StoredToken {
  id: string;
  label: string;
  admin: string;
  created: string;
}

export class AdminStore {
  constructor(private readonly pool: pg.Pool) {}

  // --- accounts ------------------------------------------------------------------------------

  async add(name: string, passwordHash: string): Promise<void> {
    try {
      await this.pool.query('insert into ftpsd_admins (name, password_hash) values ($1, $2)', [name, passwordHash]);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new AdminExistsError(name);
      throw err;
    }
  }

  /** Removes the account, its browser sessions and its tokens (one transaction). */
  async remove(name: string): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const { rowCount } = await client.query('delete from ftpsd_admins where name = $1', [name]);
      if (!rowCount) {
        await client.query('rollback');
        throw new NoSuchAdminError(name);
      }
      await client.query('delete from ftpsd_admin_sessions where admin = $1', [name]);
      await client.query('delete from ftpsd_admin_tokens where admin = $1', [name]);
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async list(): Promise<{ name: string; created: string }[]> {
    const { rows } = await this.pool.query<{ name: string; created_at: Date }>('select name, created_at from ftpsd_admins order by name');
    return rows.map((r) => ({ name: r.name, created: r.created_at.toISOString() }));
  }

  /** The account's hash, or undefined when there is no such admin. */
  async passwordHash(name: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ password_hash: string }>('select password_hash from ftpsd_admins where name = $1', [name]);
    return rows[0]?.password_hash;
  }

  // --- browser sessions (SHA-256 of the cookie) ----------------------------------------------

  async saveSession(hash: string, admin: string, expires: number): Promise<void> {
    await this.pool.query('insert into ftpsd_admin_sessions (hash, admin, expires_at) values ($1, $2, to_timestamp($3 / 1000.0))', [hash, admin, expires]);
    // Expired sessions go at each login (cheap: indexed by nothing but few rows).
    await this.pool.query('delete from ftpsd_admin_sessions where expires_at <= now()');
  }

  /** The admin of a session still valid, or undefined. */
  async sessionAdmin(hash: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ admin: string }>('select admin from ftpsd_admin_sessions where hash = $1 and expires_at > now()', [hash]);
    return rows[0]?.admin;
  }

  async deleteSession(hash: string): Promise<void> {
    await this.pool.query('delete from ftpsd_admin_sessions where hash = $1', [hash]);
  }

  // --- bearer tokens (SHA-256 of the secret) -------------------------------------------------

  async saveToken(token: StoredToken, hash: string): Promise<void> {
    await this.pool.query('insert into ftpsd_admin_tokens (id, hash, admin, label, created_at) values ($1, $2, $3, $4, $5)', [token.id, hash, token.admin, token.label, token.created]);
  }

  /** A token's admin and hash, or undefined. */
  async token(id: string): Promise<{ admin: string; hash: string } | undefined> {
    const { rows } = await this.pool.query<{ admin: string; hash: string }>('select admin, hash from ftpsd_admin_tokens where id = $1', [id]);
    return rows[0];
  }

  async tokens(): Promise<StoredToken[]> {
    const { rows } = await this.pool.query<{ id: string; label: string; admin: string; created_at: Date }>('select id, label, admin, created_at from ftpsd_admin_tokens order by created_at');
    return rows.map((r) => ({ id: r.id, label: r.label, admin: r.admin, created: r.created_at.toISOString() }));
  }

  async revokeToken(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('delete from ftpsd_admin_tokens where id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }
}
