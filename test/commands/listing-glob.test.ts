/**
 * Wildcards in LIST and NLST (`mget *.csv`, `ncftpget host . "/dir/*"`): the last segment only, sorted,
 * NLST names carrying the argument's directory, list permission on that directory, a name that exists
 * as typed listed as it is, 550 for no match and beyond the match limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/storage/memory.js';
import { MAX_GLOB_MATCHES } from '../../src/listing/glob.js';
import { download, loggedIn } from '../helpers/flows.js';
import { startServer, type TestServer } from '../helpers/server.js';

const lines = (b: Buffer) => b.toString().split('\r\n').slice(0, -1);

describe('LIST and NLST with wildcards', () => {
  let t: TestServer;
  beforeAll(async () => {
    const big: Record<string, string> = {};
    for (let i = 0; i <= MAX_GLOB_MATCHES; i++) big[`n${i}`] = '';
    const storage = new MemoryStorage({
      data: { 'b.csv': 'b', 'a.csv': 'a', 'c.txt': 'c', 'a*b': 'literal', sub: { 'x.csv': 'x' }, '.hidden.csv': 'h' },
      secret: { 'k.csv': 'k' },
      big,
    });
    t = await startServer({
      users: [{ name: 'u', password: { plain: 'pw' }, home: storage, rules: [{ path: '/secret', deny: ['list'] }] }],
    });
  });
  afterAll(() => t.close());

  const login = () => loggedIn(t, { user: 'u', pass: 'pw' });

  it('NLST /data/*.csv: the matching names with the directory as given, sorted; no dot files', async () => {
    const c = await login();
    expect(lines(await download(c, 'NLST /data/*.csv'))).toEqual(['/data/a.csv', '/data/b.csv']);
    expect(lines(await download(c, 'NLST data/?.txt'))).toEqual(['data/c.txt']);
    expect(lines(await download(c, 'NLST /data/[ab].csv'))).toEqual(['/data/a.csv', '/data/b.csv']);
    expect(lines(await download(c, 'NLST /data/*'))).toEqual(['/data/a*b', '/data/a.csv', '/data/b.csv', '/data/c.txt', '/data/sub']);
    await c.expectCmd('CWD /data', 250);
    expect(lines(await download(c, 'NLST *.csv'))).toEqual(['a.csv', 'b.csv']);
    expect(lines(await download(c, 'NLST .*'))).toEqual(['.hidden.csv']);
    c.close();
  });

  it('LIST with a pattern: one ls line per match, matched directories not descended into', async () => {
    const c = await login();
    const got = lines(await download(c, 'LIST -l /data/*'));
    expect(got.map((l) => l.split(/\s+/).slice(8).join(' '))).toEqual(['a*b', 'a.csv', 'b.csv', 'c.txt', 'sub']);
    expect(got[4]).toMatch(/^d/);
    c.close();
  });

  it('a name with wildcard characters that exists is listed as it is', async () => {
    const c = await login();
    expect(lines(await download(c, 'NLST /data/a*b'))).toEqual(['a*b']);
    expect(lines(await download(c, 'LIST /data/a*b'))).toHaveLength(1);
    c.close();
  });

  it('550 when nothing matches, for a missing directory, and without list permission on the directory', async () => {
    const c = await login();
    await c.epsv();
    await c.expectCmd('NLST /data/*.pdf', 550, /^550 No files found\.$/);
    await c.epsv();
    await c.expectCmd('NLST /nowhere/*', 550);
    await c.epsv();
    await c.expectCmd('NLST /secret/*', 550, /^550 Permission denied\.$/);
    await c.epsv();
    await c.expectCmd('LIST /secret/k*', 550, /^550 Permission denied\.$/);
    // Wildcards in a directory segment are not expanded.
    await c.epsv();
    await c.expectCmd('NLST /d*/a.csv', 550);
    c.close();
  });

  it(`more than ${MAX_GLOB_MATCHES} matches is refused, not cut short`, async () => {
    const c = await login();
    await c.epsv();
    await c.expectCmd('NLST /big/n*', 550, /^550 Too many matches/);
    expect(lines(await download(c, 'NLST /big/n1000?'))).toHaveLength(1);
    c.close();
  });
});
