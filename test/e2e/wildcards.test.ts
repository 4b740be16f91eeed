/**
 * Wildcard downloads with the clients scripts use: ncftpget (`ncftpget host . "/dir/*.csv"`, and `-R`),
 * lftp `mget` (explicit FTPS; lftp matches the pattern itself against a listing, so it is a regression
 * check only), Python ftplib `nlst('*.csv')`, curl with `-X 'NLST *.csv'`. The others send NLST with the
 * pattern and fetch what it names.
 */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASS, USER } from '../helpers/server.js';
import { curl, curlTarget, lftp, lftpOpen, python, pythonConfig, pythonOutput } from './clients.js';
import { expectSuccess, run, tempDir, withServer, type TempDir } from './helpers.js';

const hasNcftp = spawnSync('ncftpget', ['-v'], { stdio: 'ignore' }).error === undefined;
if (!hasNcftp) console.warn('ncftpget tests skipped: ncftpget is not installed (Debian package ncftp)');

describe('wildcard downloads', () => {
  const server = withServer({ implicit: true });
  let work: TempDir;

  beforeAll(async () => {
    const root = server().root;
    await mkdir(join(root, 'reports', 'sub'), { recursive: true });
    for (const n of ['jan.csv', 'feb.csv', 'notes.txt']) await writeFile(join(root, 'reports', n), `content of ${n}\n`);
    await writeFile(join(root, 'reports', 'sub', 'deep.csv'), 'deep\n');
    work = await tempDir('ftpsd-glob-');
  });
  afterAll(() => work?.remove());

  async function freshDir(name: string): Promise<string> {
    const dir = join(work.path, name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  it.skipIf(!hasNcftp)('ncftpget host . "/reports/*.csv", then -R "/reports/*"', async () => {
    const t = server();
    const flat = await freshDir('ncftp-flat');
    const args = ['-t', '30', '-u', USER, '-p', PASS, '-P', String(t.port), t.host, '.'];
    expectSuccess(await run('ncftpget', [...args, '/reports/*.csv'], { cwd: flat, timeoutMs: 60_000 }));
    expect((await readdir(flat)).sort()).toEqual(['feb.csv', 'jan.csv']);
    expect(await readFile(join(flat, 'jan.csv'), 'utf8')).toBe('content of jan.csv\n');
    const tree = await freshDir('ncftp-tree');
    expectSuccess(await run('ncftpget', ['-R', ...args, '/reports/*'], { cwd: tree, timeoutMs: 60_000 }));
    expect((await readdir(tree)).sort()).toEqual(['feb.csv', 'jan.csv', 'notes.txt', 'sub']);
    expect(await readFile(join(tree, 'sub', 'deep.csv'), 'utf8')).toBe('deep\n');
  });

  it('lftp mget *.csv over explicit FTPS', async () => {
    const dir = await freshDir('lftp');
    expectSuccess(await lftp(`${lftpOpen(server(), 'explicit')}; lcd ${dir}; cd reports; mget *.csv`, { timeoutMs: 60_000 }));
    expect((await readdir(dir)).sort()).toEqual(['feb.csv', 'jan.csv']);
  });

  it("Python ftplib nlst('*.csv') and nlst('/reports/*.txt')", async () => {
    const script = `
f = open_ftp()
f.cwd('/reports')
out({'here': sorted(f.nlst('*.csv')), 'there': f.nlst('/reports/*.txt')})
f.quit()
`;
    const res = pythonOutput<{ here: string[]; there: string[] }>(expectSuccess(await python(script, pythonConfig(server(), 'implicit'))));
    expect(res.here).toEqual(['feb.csv', 'jan.csv']);
    expect(res.there).toEqual(['/reports/notes.txt']);
  });

  it("curl --list-only -X 'NLST *.csv' (explicit FTPS)", async () => {
    const { args, url } = curlTarget(server(), 'explicit');
    const r = expectSuccess(await curl([...args, '--list-only', '-X', 'NLST *.csv', `${url}/reports/`], { timeoutMs: 60_000 }));
    expect(r.stdout.split(/\r?\n/).filter(Boolean)).toEqual(['feb.csv', 'jan.csv']);
  });
});
