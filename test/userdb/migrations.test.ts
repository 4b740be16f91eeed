/**
 * The user database's migrations against a real PostgreSQL: eight stores opening at once (eight nodes
 * starting together) apply each migration exactly once under the advisory lock; a database with a schema
 * newer than this ftpsd knows is refused; the triggers notify changes to users and bans.
 */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, SCHEMA_VERSION, migrate } from '../../src/userdb/migrations.js';
import { UserStore } from '../../src/userdb/store.js';
import { ChangeListener, type BanNotice } from '../../src/userdb/listener.js';
import { postgresBin, usingPostgres } from '../services/postgres.js';
import { until } from '../helpers/poll.js';

const BIN = postgresBin();
if (!BIN) console.warn('user database tests skipped: postgresql is not installed (apt-get install -y postgresql)');

describe.skipIf(!BIN)('user database schema', () => {
  const pgs = usingPostgres();

  it('eight nodes starting at once: each migration applied once', async () => {
    const stores = await Promise.all(Array.from({ length: 8 }, () => UserStore.open(pgs.db.url, () => undefined, 1)));
    await Promise.all(stores.map((s) => s.close()));
    const { rows } = await pgs.sql.query<{ version: number }>('select version from ftpsd_schema_migrations order by version');
    expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    // Again: nothing to do.
    expect(await migrate(pgs.sql)).toEqual([]);
  });

  it('refuses a schema newer than this ftpsd knows', async () => {
    await pgs.sql.query("insert into ftpsd_schema_migrations (version, description) values ($1, 'from the future')", [SCHEMA_VERSION + 1]);
    try {
      await expect(UserStore.open(pgs.db.url)).rejects.toThrow(`the user database has schema version ${SCHEMA_VERSION + 1}, newer than this ftpsd knows (${SCHEMA_VERSION}): upgrade ftpsd`);
    } finally {
      await pgs.sql.query('delete from ftpsd_schema_migrations where version = $1', [SCHEMA_VERSION + 1]);
    }
  });

  it('changes to users and bans are notified, whoever makes them (SQL by hand too)', async () => {
    const listener = new ChangeListener(pgs.db.url);
    const users: string[] = [];
    const bans: BanNotice[] = [];
    listener.on('user', (n) => users.push(n));
    listener.on('ban', (b) => bans.push(b));
    await listener.start();
    try {
      await pgs.sql.query("insert into ftpsd_users (name, password_hash) values ('zed', 'x')");
      await pgs.sql.query("update ftpsd_users set enabled = false where name = 'zed'");
      await pgs.sql.query("delete from ftpsd_users where name = 'zed'");
      await pgs.sql.query("insert into ftpsd_bans (network, until) values ('198.51.100.1', now() + interval '1 minute')");
      await pgs.sql.query("delete from ftpsd_bans where network = '198.51.100.1'");
      await until(() => users.length === 3 && bans.length === 2, 'the notifications', 5_000);
      expect(users).toEqual(['zed', 'zed', 'zed']);
      expect(bans[0]).toMatchObject({ network: '198.51.100.1' });
      expect((bans[0] as { until: number }).until).toBeGreaterThan(Date.now());
      expect(bans[1]).toEqual({ network: '198.51.100.1', lifted: true });
    } finally {
      await listener.close();
    }
  });

  it('failures counted by several nodes at once make exactly one ban', async () => {
    const stores = await Promise.all([1, 2, 3].map(() => UserStore.open(pgs.db.url, () => undefined, 2)));
    const policy = { failures: 5, windowMs: 60_000, durationMs: 60_000 };
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 3]!.recordFailure('203.0.113.9', policy)));
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    expect((await stores[0]!.bans()).map((b) => b.network)).toContain('203.0.113.9');
    await Promise.all(stores.map((s) => s.close()));
  });
});
