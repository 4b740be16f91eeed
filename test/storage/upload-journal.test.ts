/**
 * The upload journal (storage/upload-journal.ts): what LocalStorage records, what recovery removes and,
 * above all, what it refuses to touch (read as an attacker would: journal lines naming other files,
 * symlinks, directories outside the roots), journals of processes that run, compaction, and two
 * processes recovering at once.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../src/logger.js';
import { LocalStorage } from '../../src/storage/local.js';
import { COMPACT_BYTES, openEntries, openUploadJournal, recoverUploads, type UploadJournal } from '../../src/storage/upload-journal.js';

let base: string;
let root: string;
let outside: string;
let journals: string;
const opened: UploadJournal[] = [];

beforeEach(async () => {
  base = await fs.mkdtemp(join(tmpdir(), 'ftpsd-journal-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  journals = join(base, 'state', 'upload-journals');
  await fs.mkdir(join(root, 'sub'), { recursive: true });
  await fs.mkdir(outside);
});

afterEach(async () => {
  for (const j of opened.splice(0)) j.close();
  await fs.rm(base, { recursive: true, force: true });
});

async function open(log: Logger = silentLogger): Promise<UploadJournal> {
  const { journal } = await openUploadJournal({ dir: journals, roots: [root], logger: log });
  opened.push(journal);
  return journal;
}

const T1 = '.ftpsd-upload-0123456789abcdef';
const T2 = '.ftpsd-upload-fedcba9876543210';

/**
 * Writes a journal as a process that is gone would have left it: the name of this process's own
 * journal with a pid that does not exist.
 */
async function deadJournal(lines: unknown[], pid = 999_999_999): Promise<string> {
  const probe = await openUploadJournal({ dir: join(base, 'probe'), roots: [], logger: silentLogger });
  probe.journal.close(true);
  const name = basename(probe.journal.file).replace(/^([0-9a-f]{8}-[0-9a-f]{8})-\d+-/, `$1-${pid}-`);
  const file = join(journals, name);
  await fs.mkdir(journals, { recursive: true });
  await fs.writeFile(file, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

function lines(): { warn: Record<string, unknown>[]; logger: Logger } {
  const warn: Record<string, unknown>[] = [];
  const logger = {
    trace() {},
    debug() {},
    info() {},
    warn: (obj: object, msg?: string) => warn.push({ ...obj, msg }),
    error() {},
    child: () => logger,
  } as Logger;
  return { warn, logger };
}

describe('LocalStorage records its temp files', () => {
  it('one open entry per running upload through a temp file; none once it is committed or aborted; in-place writes are not recorded', async () => {
    const journal = await open();
    const storage = new LocalStorage(root, { journal });
    await fs.writeFile(join(root, 'sub', 'old.txt'), 'old');
    const a = await storage.write(['sub', 'old.txt'], { mode: 'replace' });
    const b = await storage.write(['new.txt'], { mode: 'replace' });
    const c = await storage.write(['appended.txt'], { mode: 'append' });
    const entries = openEntries(readFileSync(journal.file, 'utf8'));
    expect(entries).toHaveLength(2);
    const realRoot = await fs.realpath(root);
    expect(entries.map((e) => [e.root, e.dir])).toEqual([[realRoot, 'sub'], [realRoot, '']]);
    for (const e of entries) expect(existsSync(join(e.root, e.dir, e.name))).toBe(true);
    a.stream.end('new');
    await a.commit();
    await b.abort();
    c.stream.end('x');
    await c.commit();
    expect(openEntries(readFileSync(journal.file, 'utf8'))).toEqual([]);
    expect(journal.running).toBe(0);
    expect(await fs.readFile(join(root, 'sub', 'old.txt'), 'utf8')).toBe('new');
  });

  it('stays bounded: compacted to the open entries', async () => {
    const journal = await open();
    const keep = journal.begin({ root: '/r', dir: 'a', name: T1 });
    for (let i = 0; i < 20_000; i++) journal.end(journal.begin({ root: '/r', dir: 'd'.repeat(100), name: T2 }));
    const size = (await fs.stat(journal.file)).size;
    expect(size).toBeLessThanOrEqual(COMPACT_BYTES + 1000);
    expect(openEntries(readFileSync(journal.file, 'utf8'))).toEqual([{ root: '/r', dir: 'a', name: T1 }]);
    journal.end(keep);
    expect(openEntries(readFileSync(journal.file, 'utf8'))).toEqual([]);
    expect((await fs.readdir(journals)).filter((n) => n.endsWith('.new'))).toEqual([]);
  });
});

describe('recovery', () => {
  it('removes the temp files a dead process left open, logs count and bytes, and deletes its journal', async () => {
    const real = await fs.realpath(root);
    await fs.writeFile(join(root, 'sub', T1), Buffer.alloc(1000));
    await fs.writeFile(join(root, T2), Buffer.alloc(234));
    await fs.writeFile(join(root, '.ftpsd-upload-00000000000000aa'), 'committed meanwhile? no: ended');
    const dead = await deadJournal([
      { ftpsd: 'upload-journal', v: 1 },
      { b: 1, root: real, dir: 'sub', name: T1 },
      { b: 2, root: real, dir: '', name: T2 },
      { b: 3, root: real, dir: '', name: '.ftpsd-upload-00000000000000aa' },
      { e: 3 },
      { b: 4, root: real, dir: 'gone', name: '.ftpsd-upload-00000000000000bb' },
      '{"b":5,"root":"', // cut short by the crash
    ]);
    const { warn, logger } = lines();
    await open(logger);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(join(root, 'sub', T1))).toBe(false);
    expect(existsSync(join(root, T2))).toBe(false);
    // An ended entry is not touched.
    expect(existsSync(join(root, '.ftpsd-upload-00000000000000aa'))).toBe(true);
    expect(warn).toEqual([{ msg: 'removed leftover upload temp files', files: 2, bytes: 1234, missing: 1, refused: 0, journals: 1 }]);
  });

  it('refuses whatever is not a temp file of a served root: other names, outside roots, .., symlinks, directories', async () => {
    const real = await fs.realpath(root);
    const out = await fs.realpath(outside);
    await fs.writeFile(join(root, 'important.txt'), 'keep me');
    await fs.writeFile(join(outside, T1), 'outside');
    await fs.writeFile(join(outside, 'secret'), 'secret');
    await fs.symlink(outside, join(root, 'link-out'));
    await fs.symlink(join(outside, 'secret'), join(root, T2));
    await fs.mkdir(join(root, 'sub', T1));
    await deadJournal([
      { b: 1, root: real, dir: '', name: 'important.txt' }, // not a temp name
      { b: 2, root: out, dir: '', name: T1 }, // a root that is not served
      { b: 3, root: real, dir: '..', name: T1 }, // out through ..
      { b: 4, root: real, dir: 'sub/../..', name: T1 },
      { b: 5, root: real, dir: 'link-out', name: T1 }, // a symlink out of the root
      { b: 6, root: real, dir: '', name: T2 }, // the temp name is a symlink
      { b: 7, root: real, dir: 'sub', name: T1 }, // a directory
      { b: 8, root: '/', dir: out.slice(1), name: T1 }, // the whole file system as root
      { b: 9, root: real, dir: '', name: `${T1}/../../important.txt` },
      { b: 10, root: 'relative/root', dir: '', name: T1 },
    ]);
    const { warn, logger } = lines();
    await open(logger);
    expect(await fs.readFile(join(root, 'important.txt'), 'utf8')).toBe('keep me');
    expect(await fs.readFile(join(outside, T1), 'utf8')).toBe('outside');
    expect(await fs.readFile(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect((await fs.lstat(join(root, T2))).isSymbolicLink()).toBe(true);
    expect((await fs.stat(join(root, 'sub', T1))).isDirectory()).toBe(true);
    const summary = warn.find((w) => w.msg === 'removed leftover upload temp files');
    // The symlinked directory resolves outside the root: as if missing.
    expect(summary).toMatchObject({ files: 0, bytes: 0, missing: 1, refused: 9 });
  });

  it('leaves the journal of a process that runs alone, and its files', async (ctx) => {
    if (!existsSync('/proc/self/stat')) ctx.skip();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    await once(child, 'spawn');
    try {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
      const real = await fs.realpath(root);
      await fs.writeFile(join(root, T1), 'in flight');
      const file = await deadJournal([{ b: 1, root: real, dir: '', name: T1 }], child.pid);
      // The pid with the wrong start time is another process: that journal would be recovered.
      const live = file.replace(/-(\d+)-([0-9a-f]{8})\.journal$/, `-${start}-$2.journal`);
      await fs.rename(file, live);
      const report = await recoverUploads(journals, [root], silentLogger);
      expect(report).toMatchObject({ journals: 0, files: 0 });
      expect(existsSync(live)).toBe(true);
      expect(existsSync(join(root, T1))).toBe(true);
      // Once it is gone, the next recovery takes it.
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(await recoverUploads(journals, [root], silentLogger)).toMatchObject({ journals: 1, files: 1 });
      expect(existsSync(join(root, T1))).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('two processes recovering at once: each journal is taken by one of them', async () => {
    const real = await fs.realpath(root);
    for (let i = 0; i < 20; i++) {
      const name = `.ftpsd-upload-${i.toString(16).padStart(16, '0')}`;
      await fs.writeFile(join(root, name), 'x');
      await deadJournal([{ b: 1, root: real, dir: '', name }], 900_000_000 + i);
    }
    const [a, b] = await Promise.all([recoverUploads(journals, [root], silentLogger), recoverUploads(journals, [root], silentLogger)]);
    expect(a.journals + b.journals).toBe(20);
    expect(a.files + b.files).toBe(20);
    expect(await fs.readdir(journals)).toEqual([]);
  });

  it('a second journal in the same process (two servers) is not taken for a dead one', async () => {
    const first = await open();
    const storage = new LocalStorage(root, { journal: first });
    const upload = await storage.write(['f.txt'], { mode: 'replace' });
    await open();
    expect(existsSync(first.file)).toBe(true);
    upload.stream.end('data');
    await upload.commit();
    expect(await fs.readFile(join(root, 'f.txt'), 'utf8')).toBe('data');
  });
});

describe('createServer', () => {
  it('with a stateDir: listen() removes what a crashed run left; without one no journal is kept', async () => {
    const { createServer } = await import('../../src/index.js');
    const state = join(base, 'state');
    const real = await fs.realpath(root);
    await fs.writeFile(join(root, 'sub', T1), Buffer.alloc(4096));
    const dead = await deadJournal([{ b: 1, root: real, dir: 'sub', name: T1 }]);
    const { warn, logger } = lines();
    const server = createServer({ listen: '127.0.0.1:0', root, stateDir: state, users: [{ name: 'u', password: 'p' }], tlsRequired: 'off', logger });
    await server.listen();
    expect(existsSync(join(root, 'sub', T1))).toBe(false);
    expect(existsSync(dead)).toBe(false);
    expect(warn).toEqual([{ msg: 'removed leftover upload temp files', files: 1, bytes: 4096, missing: 0, refused: 0, journals: 1 }]);
    expect((await fs.readdir(journals)).filter((n) => n.endsWith('.journal'))).toHaveLength(1);
    await server.close();
    expect(await fs.readdir(journals)).toEqual([]);

    await fs.writeFile(join(root, 'sub', T2), 'left');
    await deadJournal([{ b: 1, root: real, dir: 'sub', name: T2 }]);
    const plain = createServer({ listen: '127.0.0.1:0', root, users: [{ name: 'u', password: 'p' }], tlsRequired: 'off' });
    await plain.listen();
    await plain.close();
    expect(existsSync(join(root, 'sub', T2))).toBe(true);
  });
});
