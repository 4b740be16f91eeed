/**
 * Logins through the user database (`--user-db`) against config-file users, in this process: the same
 * argon2id hash behind both, a throwaway PostgreSQL on loopback (test/services/postgres.ts; skipped with
 * a line when PostgreSQL is not installed). What differs is the row read per login.
 *   userdb_row_read_ms               median wall time of the one query a database login adds
 *   userdb_login_ms, config_login_ms median wall time of one login (argon2id verify included)
 *   userdb_logins_per_s, config_logins_per_s   logins per second, BENCH_USERDB_CONCURRENCY (8) at once
 *   userdb_login_rate_ratio          database / config (1.0: the database costs nothing measurable)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import type { Authenticator } from '../../src/auth/authenticator.js';
import { silentLogger } from '../../src/logger.js';
import { DbAuthenticator } from '../../src/userdb/authenticator.js';
import { UserStore } from '../../src/userdb/store.js';
import { postgresBin, startPostgres } from '../../test/services/postgres.js';
import { fmt, log, median, now, out } from './stats.js';

export async function userDbLogins(logins: number): Promise<void> {
  if (!postgresBin()) {
    log('userdb skipped: PostgreSQL is not installed');
    out('userdb_skipped', '"postgresql not installed"');
    return;
  }
  const concurrency = Number(process.env.BENCH_USERDB_CONCURRENCY ?? 8);
  const db = await startPostgres();
  const root = await mkdtemp(join(tmpdir(), 'ftpsd-bench-userdb-'));
  const store = await UserStore.open(db.url, () => undefined, concurrency + 2);
  try {
    const hash = await hashPassword('bench-Pass-1');
    await store.add({ name: 'dbuser', passwordHash: hash, home: root, readOnly: false, permissions: null, rules: [], quotaBytes: null, quotaFiles: null, enabled: true, allowedNetworks: null, login: 'password', certificates: null });
    const config = new UserAuthenticator([{ name: 'cfguser', password: { hash }, home: root }]);
    const viaDb = new DbAuthenticator(store, config, config.names(), { root, logger: silentLogger });
    const reads: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = now();
      await store.get('dbuser');
      reads.push(1000 * (now() - t0));
    }
    out('userdb_row_read_ms', fmt(median(reads), 3));
    const measure = async (auth: Authenticator, user: string, prefix: string): Promise<number> => {
      const one = async () => {
        const t0 = now();
        const r = await auth.login({ user, password: 'bench-Pass-1', remoteAddress: '127.0.0.1', secure: true });
        if (!r) throw new Error(`${user} did not log in`);
        return 1000 * (now() - t0);
      };
      const walls: number[] = [];
      for (let i = 0; i < 20; i++) walls.push(await one());
      out(`${prefix}_login_ms`, fmt(median(walls), 2));
      let left = logins;
      const t0 = now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await one();
      }));
      const rate = logins / (now() - t0);
      out(`${prefix}_logins_per_s`, fmt(rate, 1));
      return rate;
    };
    const cfgRate = await measure(config, 'cfguser', 'config');
    const dbRate = await measure(viaDb, 'dbuser', 'userdb');
    out('userdb_login_rate_ratio', fmt(dbRate / cfgRate, 3));
  } finally {
    await store.close().catch(() => undefined);
    await db.close();
    await rm(root, { recursive: true, force: true });
  }
}
