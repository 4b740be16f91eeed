/**
 * A Storage wrapper's base: every required method passes to the wrapped backend unchanged, so a wrapper
 * writes only the methods it changes. Optional capabilities are not forwarded: a wrapper offers those it
 * can keep (a capability switches commands on, see storage.ts).
 */
import type { Readable } from 'node:stream';
import type { FileStat, ReadOptions, Storage, Upload, WriteOptions } from './storage.js';
import type { VirtualPath } from '../base/virtual-path.js';

export class ForwardingStorage implements Storage {
  constructor(protected readonly inner: Storage) {}

  stat(path: VirtualPath): Promise<FileStat> {
    return this.inner.stat(path);
  }

  list(path: VirtualPath): AsyncIterable<FileStat> {
    return this.inner.list(path);
  }

  read(path: VirtualPath, options?: ReadOptions): Promise<Readable> {
    return this.inner.read(path, options);
  }

  write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    return this.inner.write(path, options);
  }

  mkdir(path: VirtualPath): Promise<void> {
    return this.inner.mkdir(path);
  }

  rmdir(path: VirtualPath): Promise<void> {
    return this.inner.rmdir(path);
  }

  remove(path: VirtualPath): Promise<void> {
    return this.inner.remove(path);
  }

  rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    return this.inner.rename(from, to);
  }
}
