/**
 * Listing interoperability: real clients parse ftpsd's LIST (`ls -l` lines) and MLSD (RFC 3659 facts)
 * for names with spaces, double spaces and UTF-8, directories, sizes and old dates (year instead of time).
 * LIST: basic-ftp (forced to LIST), lftp (`ftp:use-mlsd no`, cls and mirror), curl (NLST).
 * MLSD: basic-ftp (its default when FEAT has MLST), lftp (`ftp:use-mlsd yes`), Python `mlsd()`.
 */
import { mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileType } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { basicFtp, curl, curlTarget, lftp, lftpOpen, lftpQuote as q, python, pythonConfig, pythonOutput } from './clients.js';
import { expectSuccess, tempDir, type TempDir } from './helpers.js';

/** name -> content (files) or null (directory), in directory `listing`. */
const ENTRIES: Record<string, string | null> = {
  'plain.txt': '12345',
  'with space.txt': 'hello world',
  'two  spaces.txt': 'ab',
  'Ünïcödé ñame.txt': 'üü',
  '日本語 ファイル.bin': 'x',
  'emoji 🚀.txt': 'rocket',
  'old file.txt': 'old',
  'dir with space': null,
};
const OLD = new Date('2019-05-06T07:08:09Z');
const NAMES = Object.keys(ENTRIES).sort();

let t: TestServer;
let work: TempDir;

beforeAll(async () => {
  t = await startServer({ tlsRequired: 'login' });
  work = await tempDir();
  const dir = join(t.root, 'listing');
  await mkdir(dir);
  for (const [name, content] of Object.entries(ENTRIES)) {
    if (content === null) await mkdir(join(dir, name));
    else await writeFile(join(dir, name), content);
  }
  await writeFile(join(dir, 'dir with space', 'inner file.txt'), 'inner');
  await utimes(join(dir, 'old file.txt'), OLD, OLD);
});
afterAll(async () => {
  await t.close();
  await work.remove();
});

function expectedSize(name: string): number {
  return Buffer.byteLength(ENTRIES[name] ?? '');
}

describe('LIST', () => {
  it('basic-ftp parses the ls -l lines', async () => {
    const client = await basicFtp(t, 'explicit');
    try {
      client.availableListCommands = ['LIST'];
      const list = await client.list('listing');
      expect(list.map((f) => f.name).sort()).toEqual(NAMES);
      for (const f of list) {
        expect(f.type, f.name).toBe(ENTRIES[f.name] === null ? FileType.Directory : FileType.File);
        if (f.isFile) expect(f.size, f.name).toBe(expectedSize(f.name));
      }
      expect(list.find((f) => f.name === 'old file.txt')!.rawModifiedAt).toMatch(/^May +6 +2019$/);
    } finally {
      client.close();
    }
  });

  it('lftp parses it (cls) and mirror reproduces every name and byte', async () => {
    const cls = expectSuccess(await lftp(`${lftpOpen(t, 'explicit', ['set ftp:use-mlsd no'])}; cls -1 listing/`));
    expect(cls.stdout.trim().split('\n').sort()).toEqual(NAMES.map((n) => `listing/${n}${ENTRIES[n] === null ? '/' : ''}`).sort());
    const target = join(work.path, 'mirror-list');
    expectSuccess(await lftp(`${lftpOpen(t, 'explicit', ['set ftp:use-mlsd no'])}; mirror listing ${q(target)}`));
    await expectMirrored(target);
  });

  it('curl reads NLST names', async () => {
    const { args, url } = curlTarget(t, 'explicit');
    const r = expectSuccess(await curl([...args, '--list-only', `${url}/listing/`]));
    expect(r.stdout.split(/\r?\n/).filter(Boolean).sort()).toEqual(NAMES);
  });
});

describe('MLSD', () => {
  it('basic-ftp uses MLSD (FEAT has MLST) and parses the facts', async () => {
    const client = await basicFtp(t, 'explicit');
    try {
      expect(client.availableListCommands[0]).toBe('MLSD');
      const list = await client.list('listing');
      expect(client.availableListCommands).toEqual(['MLSD']); // MLSD worked, so it stays
      expect(list.map((f) => f.name).sort()).toEqual(NAMES);
      for (const f of list) {
        expect(f.type, f.name).toBe(ENTRIES[f.name] === null ? FileType.Directory : FileType.File);
        if (f.isFile) expect(f.size, f.name).toBe(expectedSize(f.name));
      }
      expect(list.find((f) => f.name === 'old file.txt')!.modifiedAt?.toISOString()).toBe(OLD.toISOString());
    } finally {
      client.close();
    }
  });

  it('lftp with ftp:use-mlsd mirrors every name and byte', async () => {
    const target = join(work.path, 'mirror-mlsd');
    expectSuccess(await lftp(`${lftpOpen(t, 'explicit', ['set ftp:use-mlsd yes'])}; mirror listing ${q(target)}`));
    await expectMirrored(target);
  });

  it('Python mlsd() returns the names and facts', async () => {
    const script = String.raw`
f = open_ftp()
entries = sorted(f.mlsd('listing'))
f.quit()
out(entries)
`;
    const entries = pythonOutput<[string, Record<string, string>][]>(expectSuccess(await python(script, pythonConfig(t, 'explicit'))));
    expect(entries.map(([name]) => name)).toEqual(NAMES);
    for (const [name, facts] of entries) {
      expect(facts.type, name).toBe(ENTRIES[name] === null ? 'dir' : 'file');
      if (facts.type === 'file') expect(Number(facts.size), name).toBe(expectedSize(name));
      expect(facts.modify, name).toMatch(/^\d{14}$/);
    }
    expect(Object.fromEntries(entries)['old file.txt']!.modify).toBe('20190506070809');
  });
});

/** The mirrored tree equals the fixture: names, contents, the nested file. */
async function expectMirrored(target: string): Promise<void> {
  expect((await readdir(target)).sort()).toEqual(NAMES);
  for (const [name, content] of Object.entries(ENTRIES)) {
    if (content !== null) expect(await readFile(join(target, name), 'utf8'), name).toBe(content);
  }
  expect(await readFile(join(target, 'dir with space', 'inner file.txt'), 'utf8')).toBe('inner');
}
