/**
 * Quotas: a Storage wrapper that limits the bytes and the number of files in a tree.
 *
 * `QuotaUsage` is the usage of one tree (a user's home): computed once by walking it, on first use, then
 * kept up to date by every `QuotaStorage` over that tree (commit, remove, rename), so all sessions of a
 * user, and all users sharing the home, see one figure. Changes made outside ftpsd are not seen until the
 * next start. Uploads in flight reserve what they have written, so parallel uploads cannot overshoot.
 *
 * An upload fails with EDQUOT (reply 552) as soon as the next chunk would exceed the quota, during the
 * transfer: the chunk is not written, the upload is aborted, and a file it created is removed (also under
 * the `keep` partial policy). Replacing a file counts the difference between the old and the new size,
 * so a full user can still shrink a file; an append or REST + STOR keeps what was written up to the limit.
 * A new file needs a free file slot (checked before any data flows). Directories are not counted, nor are
 * in-flight temp files. Entries reached twice (symlinks inside the tree) are counted once when the
 * backend reports a `unique` fact.
 */
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { StorageError } from '../base/errors.js';
import { ForwardingStorage } from './forwarding.js';
import { readShortcut } from './read-shortcut.js';
import type { FileStat, OpenedFile, ReadOptions, Storage, Upload, WriteOptions } from './storage.js';
import { MAX_PATH_BYTES, type VirtualPath } from '../base/virtual-path.js';

export interface QuotaLimits {
  /** Most bytes the files of the tree may hold. */
  readonly bytes?: number;
  /** Most files the tree may hold. */
  readonly files?: number;
}

export class QuotaUsage {
  private usedBytes = 0;
  private usedFiles = 0;
  private reservedBytes = 0;
  private reservedFiles = 0;
  private loading: Promise<void> | undefined;

  /** `storage` is walked once to learn the usage (the unwrapped backend of the tree). */
  constructor(private readonly storage: Storage) {}

  /** Bytes and files in the tree, and what uploads in flight hold on top. */
  get current(): { bytes: number; files: number; reservedBytes: number; reservedFiles: number } {
    return { bytes: this.usedBytes, files: this.usedFiles, reservedBytes: this.reservedBytes, reservedFiles: this.reservedFiles };
  }

  /** Walks the tree on first call; later calls share the result. A failed walk is retried next time. */
  load(): Promise<void> {
    this.loading ??= this.walk().catch((err: unknown) => {
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  private async walk(): Promise<void> {
    let bytes = 0;
    let files = 0;
    const seen = new Set<string>();
    const top = await this.storage.stat([]);
    if (top.unique !== undefined) seen.add(top.unique); // a link back to the top is not walked again
    const pending: VirtualPath[] = [[]];
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      let entries: AsyncIterable<FileStat>;
      try {
        entries = this.storage.list(dir);
        for await (const entry of entries) {
          if (entry.unique !== undefined) {
            if (seen.has(entry.unique)) continue;
            seen.add(entry.unique);
          }
          if (entry.type === 'dir') {
            // Without `unique` a link loop would never end: no client can name a path this long anyway.
            const sub = [...dir, entry.name];
            if (Buffer.byteLength(sub.join('/')) <= MAX_PATH_BYTES) pending.push(sub);
          }
          else {
            bytes += entry.size;
            files += 1;
          }
        }
      } catch (err) {
        if (dir.length === 0) throw err; // a directory that vanished meanwhile holds nothing
      }
    }
    this.usedBytes += bytes;
    this.usedFiles += files;
  }

  /** Whether `limit` leaves room for `n` more bytes; if so they are reserved. */
  reserveBytes(n: number, limit: number | undefined): boolean {
    if (limit !== undefined && this.usedBytes + this.reservedBytes + n > limit) return false;
    this.reservedBytes += n;
    return true;
  }

  reserveFile(limit: number | undefined): boolean {
    if (limit !== undefined && this.usedFiles + this.reservedFiles + 1 > limit) return false;
    this.reservedFiles += 1;
    return true;
  }

  /** Drops reservations and applies what actually changed. */
  settle(reserved: { bytes: number; files: number }, change: { bytes: number; files: number }): void {
    this.reservedBytes -= reserved.bytes;
    this.reservedFiles -= reserved.files;
    this.apply(change.bytes, change.files);
  }

  apply(bytes: number, files: number): void {
    this.usedBytes = Math.max(0, this.usedBytes + bytes);
    this.usedFiles = Math.max(0, this.usedFiles + files);
  }

  /** Bytes left under `limit` (Infinity without one). */
  remaining(limit: number | undefined): number {
    return limit === undefined ? Infinity : Math.max(0, limit - this.usedBytes - this.reservedBytes);
  }
}

function overQuota(): StorageError {
  return new StorageError('EDQUOT', 'quota exceeded');
}

async function fileSize(storage: Storage, path: VirtualPath): Promise<number | undefined> {
  try {
    const st = await storage.stat(path);
    return st.type === 'file' ? st.size : undefined;
  } catch {
    return undefined;
  }
}

export class QuotaStorage extends ForwardingStorage {
  readonly setTime?: Storage['setTime'];
  readonly chmod?: Storage['chmod'];
  readonly checksum?: Storage['checksum'];

  constructor(
    inner: Storage,
    readonly usage: QuotaUsage,
    readonly limits: QuotaLimits,
  ) {
    super(inner);
    // Capabilities stay capabilities: only what the backend has.
    if (inner.setTime) this.setTime = inner.setTime.bind(inner);
    if (inner.chmod) this.chmod = inner.chmod.bind(inner);
    if (inner.checksum) this.checksum = inner.checksum.bind(inner);
    // No `symlink`: removing a link stats (and would uncount) its target, so links made by clients
    // could be used to shrink the usage figure while the files stay.
  }

  /**
   * RETR's shortcut: reads are not counted, so it is the backend's (or its `stat` then `read`). A method,
   * not a bound own property, so that a subclass that overrides `read` is not bypassed (read-shortcut.ts).
   */
  async openRead(path: VirtualPath, options?: ReadOptions): Promise<OpenedFile> {
    const shortcut = readShortcut(this.inner);
    if (shortcut) return shortcut(path, options);
    const stat = await this.inner.stat(path);
    if (stat.type !== 'file') throw new StorageError('EISDIR');
    return { stat, stream: await this.inner.read(path, options) };
  }

  override async remove(path: VirtualPath): Promise<void> {
    await this.usage.load();
    const size = await fileSize(this.inner, path);
    await this.inner.remove(path);
    if (size !== undefined) this.usage.apply(-size, -1);
  }

  override async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    await this.usage.load();
    const [source, target] = await Promise.all([this.inner.stat(from).catch(() => undefined), this.inner.stat(to).catch(() => undefined)]);
    await this.inner.rename(from, to);
    const sameEntry = source?.unique !== undefined && source.unique === target?.unique;
    if (target?.type === 'file' && !sameEntry) this.usage.apply(-target.size, -1); // replaced
  }

  async freeSpace(path: VirtualPath): Promise<number> {
    await this.usage.load();
    const left = this.usage.remaining(this.limits.bytes);
    if (!this.inner.freeSpace) return left;
    return Math.min(left, await this.inner.freeSpace(path));
  }

  override async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    const { usage, limits } = this;
    await usage.load();
    const before = await fileSize(this.inner, path);
    const isNew = before === undefined;
    // The size the file will have is `base` + what is written.
    const base = options.mode === 'replace' ? 0 : options.mode === 'append' ? (before ?? 0) : (options.offset ?? 0);
    const growsOnly = options.mode !== 'replace' || isNew;
    if (growsOnly && usage.remaining(limits.bytes) === 0) throw overQuota();
    const reserved = { bytes: 0, files: 0 };
    if (isNew) {
      if (!usage.reserveFile(limits.files)) throw overQuota();
      reserved.files = 1;
    }
    let inner: Upload;
    try {
      inner = await this.inner.write(path, options);
    } catch (err) {
      usage.settle(reserved, { bytes: 0, files: 0 });
      throw err;
    }
    let written = 0;
    let exceeded = false;
    const target = inner.stream;
    const stream = new Writable({
      // As much as the backend's own stream takes, so the data connection is not paused per chunk.
      highWaterMark: target.writableHighWaterMark,
      write(chunk: Buffer, _encoding, callback) {
        // Reserve what the file grows beyond its old size, before the chunk reaches the backend.
        const need = Math.max(0, base + written + chunk.length - (before ?? 0)) - reserved.bytes;
        if (need > 0) {
          if (!usage.reserveBytes(need, limits.bytes)) {
            exceeded = true;
            callback(overQuota());
            return;
          }
          reserved.bytes += need;
        }
        written += chunk.length;
        if (target.write(chunk)) callback();
        else target.once('drain', () => callback());
      },
      final(callback) {
        target.end();
        finished(target).then(() => callback(), callback);
      },
      destroy(err, callback) {
        // After a normal finish (autoDestroy) the backend's stream is left to its commit.
        if (!target.destroyed && (err || !target.writableFinished)) target.destroy();
        callback(err);
      },
    });
    target.on('error', (err) => stream.destroy(err));
    let settled = false;
    const settle = (change: { bytes: number; files: number }) => {
      if (settled) return;
      settled = true;
      usage.settle(reserved, change);
    };
    return {
      stream,
      commit: async (signal) => {
        if (!stream.writableFinished) await finished(stream);
        await inner.commit(signal);
        settle({ bytes: base + written - (before ?? 0), files: isNew ? 1 : 0 });
      },
      abort: async () => {
        stream.destroy();
        await inner.abort();
        let after = await fileSize(this.inner, path);
        if (exceeded && isNew && after !== undefined) {
          // Over quota, a new file goes whatever the partial policy says.
          await this.inner.remove(path).catch(() => {});
          after = await fileSize(this.inner, path);
        }
        // What the aborted upload left (a kept partial file, appended bytes); a file gone meanwhile was
        // removed by someone else, who counted it.
        settle(after === undefined ? { bytes: 0, files: 0 } : { bytes: after - (before ?? 0), files: isNew ? 1 : 0 });
      },
    };
  }
}
