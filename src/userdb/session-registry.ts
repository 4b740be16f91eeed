/**
 * Every node's live sessions in the user database (migration 3's `ftpsd_live_sessions`), so the admin
 * console of any node lists them all and can end one on another node:
 *
 * - each node replaces its own rows every PUBLISH_EVERY_MS (and soon after a session opens, logs in or
 *   closes): one row per session, its JSON as the admin API shows it, with `seen_at` as a heartbeat;
 * - rows not refreshed for STALE_MS are a node that is gone (killed): they are not listed, and the next
 *   publish of any node deletes them;
 * - ending a session on another node: `pg_notify` on END_SESSION_CHANNEL with `{node, id}`; the node
 *   that holds it (its ChangeListener) ends it with 421 and publishes at once, so the asker can wait for
 *   the row to go.
 */
import type pg from 'pg';
import { END_SESSION_CHANNEL } from './migrations.js';

/** How often a node publishes its sessions (the transfer figures of other nodes are this old at most). */
export const PUBLISH_EVERY_MS = 2_000;
/** A node whose rows are older than this is gone. */
export const STALE_MS = 10_000;

/** A session as published: its id and the JSON the admin API shows (the `node` field is added). */
export interface PublishedSession {
  id: string;
  info: Record<string, unknown>;
}

export class SessionRegistry {
  constructor(
    private readonly pool: pg.Pool,
    /** This node's name (unique per process). */
    readonly node: string,
  ) {}

  /** Replaces this node's rows with `sessions` (one transaction) and drops the rows of gone nodes. */
  async publish(sessions: readonly PublishedSession[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      await client.query('delete from ftpsd_live_sessions where node = $1 or seen_at < now() - make_interval(secs => $2)', [this.node, STALE_MS / 1000]);
      if (sessions.length > 0) {
        await client.query(
          `insert into ftpsd_live_sessions (node, id, info)
           select $1, s->>'id', s->'info' from jsonb_array_elements($2::jsonb) as s`,
          [this.node, JSON.stringify(sessions)],
        );
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** The live sessions of the other nodes, each with its `node`. */
  async others(): Promise<Record<string, unknown>[]> {
    const { rows } = await this.pool.query<{ node: string; info: Record<string, unknown> }>(
      `select node, info from ftpsd_live_sessions where node <> $1 and seen_at > now() - make_interval(secs => $2) order by info->>'since', id`,
      [this.node, STALE_MS / 1000],
    );
    return rows.map((r) => ({ ...r.info, node: r.node }));
  }

  /** The node that holds session `id` (another node, alive), or undefined. */
  async nodeOf(id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ node: string }>(
      'select node from ftpsd_live_sessions where id = $1 and node <> $2 and seen_at > now() - make_interval(secs => $3) limit 1',
      [id, this.node, STALE_MS / 1000],
    );
    return rows[0]?.node;
  }

  /** Asks `node` to end session `id` (its client gets 421). */
  async requestEnd(node: string, id: string): Promise<void> {
    await this.pool.query('select pg_notify($1, $2)', [END_SESSION_CHANNEL, JSON.stringify({ node, id })]);
  }

  /** Whether `node` still lists session `id`. */
  async listed(node: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('select 1 from ftpsd_live_sessions where node = $1 and id = $2', [node, id]);
    return (rowCount ?? 0) > 0;
  }

  /** Removes this node's rows (at stop). */
  async clear(): Promise<void> {
    await this.pool.query('delete from ftpsd_live_sessions where node = $1', [this.node]);
  }
}
