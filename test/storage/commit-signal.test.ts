/**
 * `Upload.commit(signal)`: an upload whose session ended while it was being committed (the signal aborted
 * before the upload became visible) is not published: commit rejects and things stay as `abort()` leaves
 * them. LocalStorage (temp file + rename), MemoryStorage, and QuotaStorage passing the signal on.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { QuotaStorage, QuotaUsage } from '../../src/storage/quota.js';
import type { Storage } from '../../src/storage/storage.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function local(): Promise<{ storage: LocalStorage; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'ftpsd-commit-signal-'));
  dirs.push(root);
  return { storage: new LocalStorage(root), root };
}

/** Writes `body` into a `replace` upload of `name`, then commits it under an aborted signal. */
async function abortedCommit(storage: Storage, name: string, body: string): Promise<unknown> {
  const upload = await storage.write([name], { mode: 'replace' });
  await new Promise<void>((resolve) => upload.stream.end(body, () => resolve()));
  const controller = new AbortController();
  controller.abort();
  return upload.commit(controller.signal).then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function content(storage: Storage, name: string): Promise<string | undefined> {
  try {
    const chunks: Buffer[] = [];
    for await (const c of await storage.read([name])) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString();
  } catch {
    return undefined;
  }
}

describe('commit(signal) with the signal aborted', () => {
  it('LocalStorage: rejects; a new file does not appear, an existing one keeps its content, no temp file stays', async () => {
    const { storage, root } = await local();
    await writeFile(join(root, 'old.txt'), 'old');
    expect(await abortedCommit(storage, 'new.txt', 'new content')).toBeInstanceOf(Error);
    expect(await abortedCommit(storage, 'old.txt', 'new content')).toBeInstanceOf(Error);
    expect((await readdir(root)).sort()).toEqual(['old.txt']);
    expect(await readFile(join(root, 'old.txt'), 'utf8')).toBe('old');
  });

  it('MemoryStorage: rejects; nothing changes', async () => {
    const storage = new MemoryStorage({ 'old.txt': 'old' });
    expect(await abortedCommit(storage, 'new.txt', 'new content')).toBeInstanceOf(Error);
    expect(await abortedCommit(storage, 'old.txt', 'new content')).toBeInstanceOf(Error);
    expect(await content(storage, 'new.txt')).toBeUndefined();
    expect(await content(storage, 'old.txt')).toBe('old');
  });

  it('QuotaStorage passes the signal on, and an aborted upload counts nothing', async () => {
    const { storage: inner, root } = await local();
    const usage = new QuotaUsage(inner);
    const storage = new QuotaStorage(inner, usage, { bytes: 1e6, files: 100 });
    const upload = await storage.write(['q.txt'], { mode: 'replace' });
    await new Promise<void>((resolve) => upload.stream.end('quota', () => resolve()));
    const controller = new AbortController();
    controller.abort();
    await expect(upload.commit(controller.signal)).rejects.toThrow();
    await upload.abort();
    expect(await readdir(root)).toEqual([]); // no file, and no temp file either
    expect(usage.current.reservedBytes).toBe(0);
    expect(usage.current.reservedFiles).toBe(0);
  });

  it('a signal that did not abort commits as before', async () => {
    const { storage, root } = await local();
    const upload = await storage.write(['ok.txt'], { mode: 'replace' });
    await new Promise<void>((resolve) => upload.stream.end('fine', () => resolve()));
    await upload.commit(new AbortController().signal);
    expect(await readFile(join(root, 'ok.txt'), 'utf8')).toBe('fine');
  });
});
