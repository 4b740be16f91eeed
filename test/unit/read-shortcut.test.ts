/**
 * readShortcut: RETR's `openRead` counts only when it is defined at least as close to the storage as its
 * `stat` and `read`, so that a wrapper that changes `read` is never bypassed by an inherited shortcut.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForwardingStorage } from '../../src/storage/forwarding.js';
import { LocalStorage } from '../../src/storage/local.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { QuotaStorage, QuotaUsage } from '../../src/storage/quota.js';
import { readShortcut } from '../../src/storage/read-shortcut.js';
import type { ReadOptions } from '../../src/storage/storage.js';
import type { VirtualPath } from '../../src/base/virtual-path.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ftpsd-shortcut-'));
  await writeFile(join(dir, 'f.txt'), 'data');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

class AuditedRead extends LocalStorage {
  reads = 0;
  override read(path: VirtualPath, options?: ReadOptions): Promise<Readable> {
    this.reads++;
    return super.read(path, options);
  }
}

class AuditedBoth extends AuditedRead {
  override async openRead(path: VirtualPath, options?: ReadOptions) {
    this.reads++;
    return super.openRead(path, options);
  }
}

describe('readShortcut', () => {
  it('a backend with openRead, stat and read of its own: its shortcut', async () => {
    expect(readShortcut(new LocalStorage(dir))).toBeTypeOf('function');
    expect(readShortcut(new MemoryStorage())).toBeTypeOf('function');
    const opened = await readShortcut(new LocalStorage(dir))!(['f.txt']);
    expect(opened.stat.size).toBe(4);
    opened.stream.destroy();
  });

  it('none for a storage without it, or a ForwardingStorage (which does not forward it)', () => {
    expect(readShortcut(new ForwardingStorage(new LocalStorage(dir)))).toBeUndefined();
  });

  it('none when a subclass overrides read but inherits openRead; a subclass that overrides both keeps it', () => {
    expect(readShortcut(new AuditedRead(dir))).toBeUndefined();
    expect(readShortcut(new AuditedBoth(dir))).toBeTypeOf('function');
  });

  it('none for an Object.create() wrapper that changes stat or read', () => {
    const inner = new MemoryStorage({ f: 'x' });
    const wrapped = Object.assign(Object.create(inner) as MemoryStorage, { stat: (p: VirtualPath) => inner.stat(p) });
    expect(readShortcut(wrapped)).toBeUndefined();
  });

  it('QuotaStorage: the backend shortcut, unless a subclass of it overrides read', async () => {
    const inner = new LocalStorage(dir);
    const quota = new QuotaStorage(inner, new QuotaUsage(inner), {});
    expect(readShortcut(quota)).toBeTypeOf('function');
    class AuditedQuota extends QuotaStorage {
      override read(path: VirtualPath, options?: ReadOptions): Promise<Readable> {
        return super.read(path, options);
      }
    }
    expect(readShortcut(new AuditedQuota(inner, new QuotaUsage(inner), {}))).toBeUndefined();
    // Over a backend whose own shortcut may not be used, QuotaStorage reads through its stat and read.
    const audited = new AuditedRead(dir);
    const over = new QuotaStorage(audited, new QuotaUsage(audited), {});
    const opened = await readShortcut(over)!(['f.txt']);
    opened.stream.destroy();
    expect(opened.stat.size).toBe(4);
    expect(audited.reads).toBe(1);
  });
});
