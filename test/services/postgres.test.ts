/** The test PostgreSQL harness itself: it starts, takes a password login over TCP, stops and starts again. */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBin, startPostgres, type TestPostgres } from './postgres.js';

const BIN = postgresBin();
if (!BIN) console.warn('PostgreSQL tests skipped: postgresql is not installed (apt-get install -y postgresql)');

describe.skipIf(!BIN)('test PostgreSQL', () => {
  let db: TestPostgres;
  beforeAll(async () => {
    db = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  const query = async (url: string) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      return (await c.query<{ one: number }>('select 1 as one')).rows[0]!.one;
    } finally {
      await c.end();
    }
  };

  it('takes the password in the URL, refuses a wrong one', async () => {
    expect(await query(db.url)).toBe(1);
    await expect(query(db.url.replace(db.password, 'wrong'))).rejects.toThrow(/password/);
  });

  it('stops and starts again on the same port', async () => {
    await db.stop();
    await expect(query(db.url)).rejects.toThrow();
    await db.start();
    expect(await query(db.url)).toBe(1);
  }, 60_000);
});
