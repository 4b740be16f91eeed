/**
 * In-memory storage: a tree of nodes, for tests and embedders. Same contract as the local backend:
 * `replace` uploads become visible only on commit, aborted uploads leave the old content untouched.
 * Capabilities: setTime (MFMT), chmod (SITE CHMOD), checksum (HASH, by reading); no symlinks and no
 * free-space figure (so no SITE SYMLINK and no AVBL).
 */
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { StorageError } from '../base/errors.js';
import { checksumByReading } from './checksum.js';
import type { FileStat, HashAlgorithm, OpenedFile, ReadOptions, Storage, Upload, WriteOptions } from './storage.js';
import type { VirtualPath } from '../base/virtual-path.js';

interface FileNode {
  type: 'file';
  id: number;
  chunks: Buffer[];
  size: number;
  mtime: Date;
  mode: number;
}

interface DirNode {
  type: 'dir';
  id: number;
  entries: Map<string, Node>;
  mtime: Date;
  mode: number;
}

type Node = FileNode | DirNode;

/**
 * The initial files of a MemoryStorage: strings and Buffers are files, objects are directories; a key
 * with slashes (`'in/orders.csv'`) makes the directories on its way.
 */
export interface MemoryTree {
  [name: string]: string | Buffer | MemoryTree;
}

/** A Storage in memory: for tests, and for servers whose files are made by the program. */
export class MemoryStorage implements Storage {
  private nextId = 1;
  private readonly root: DirNode;

  /** `initial` seeds the tree: strings and Buffers are files, objects are directories. */
  constructor(initial: MemoryTree = {}) {
    this.root = this.newDir();
    this.seed(this.root, initial);
  }

  private newDir(): DirNode {
    return { type: 'dir', id: this.nextId++, entries: new Map(), mtime: new Date(), mode: 0o755 };
  }

  private newFile(chunks: Buffer[]): FileNode {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    return { type: 'file', id: this.nextId++, chunks, size, mtime: new Date(), mode: 0o644 };
  }

  private seed(dir: DirNode, tree: MemoryTree): void {
    for (const [key, value] of Object.entries(tree)) {
      // `a/b.txt` is `b.txt` in the directory `a` (made if missing), as `{ a: { 'b.txt': ... } }` would be.
      const names = key.split('/').filter((n) => n !== '' && n !== '.' && n !== '..');
      const name = names.pop();
      if (name === undefined) throw new Error(`MemoryStorage: ${JSON.stringify(key)} is not a file or directory name`);
      let parent = dir;
      for (const segment of names) {
        let next = parent.entries.get(segment);
        if (!next) parent.entries.set(segment, (next = this.newDir()));
        if (next.type !== 'dir') throw new Error(`MemoryStorage: ${JSON.stringify(key)} is below a file`);
        parent = next;
      }
      if (typeof value === 'string' || Buffer.isBuffer(value)) {
        parent.entries.set(name, this.newFile([Buffer.from(value)]));
      } else {
        let sub = parent.entries.get(name);
        if (sub?.type !== 'dir') parent.entries.set(name, (sub = this.newDir()));
        this.seed(sub, value);
      }
    }
  }

  private lookup(path: VirtualPath): Node {
    let node: Node = this.root;
    for (const segment of path) {
      if (node.type !== 'dir') throw new StorageError('ENOTDIR');
      const next = node.entries.get(segment);
      if (!next) throw new StorageError('ENOENT');
      node = next;
    }
    return node;
  }

  private dirOf(path: VirtualPath): DirNode {
    if (path.length === 0) throw new StorageError('EACCES', 'the root itself');
    const parent = this.lookup(path.slice(0, -1));
    if (parent.type !== 'dir') throw new StorageError('ENOTDIR');
    return parent;
  }

  private toStat(name: string, node: Node): FileStat {
    return {
      name,
      type: node.type,
      size: node.type === 'file' ? node.size : 0,
      mtime: node.mtime,
      mode: node.mode,
      nlink: 1,
      unique: `m${node.id.toString(16)}`,
    };
  }

  async stat(path: VirtualPath): Promise<FileStat> {
    return this.toStat(path.length === 0 ? '/' : path[path.length - 1]!, this.lookup(path));
  }

  async *list(path: VirtualPath): AsyncIterable<FileStat> {
    const node = this.lookup(path);
    if (node.type !== 'dir') throw new StorageError('ENOTDIR');
    for (const [name, child] of [...node.entries]) yield this.toStat(name, child);
  }

  /** `stat` and `read` in one (RETR's shortcut): both look the node up at once, so they agree. */
  async openRead(path: VirtualPath, options: ReadOptions = {}): Promise<OpenedFile> {
    const node = this.lookup(path);
    if (node.type !== 'file') throw new StorageError('EISDIR');
    return { stat: this.toStat(path[path.length - 1]!, node), stream: await this.read(path, options) };
  }

  async read(path: VirtualPath, options: ReadOptions = {}): Promise<Readable> {
    const node = this.lookup(path);
    if (node.type !== 'file') throw new StorageError('EISDIR');
    const chunks = node.chunks;
    let skip = options.start ?? 0;
    return Readable.from(
      (function* () {
        for (const chunk of chunks) {
          if (skip >= chunk.length) {
            skip -= chunk.length;
            continue;
          }
          yield skip > 0 ? chunk.subarray(skip) : chunk;
          skip = 0;
        }
      })(),
      { objectMode: false },
    );
  }

  async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    const dir = this.dirOf(path);
    const name = path[path.length - 1]!;
    const existing = dir.entries.get(name);
    if (existing?.type === 'dir') throw new StorageError('EISDIR');
    const received: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        received.push(chunk);
        cb();
      },
    });
    let prefix: Buffer[] = [];
    /** What a file system keeps after an aborted `offset` write: the old bytes past the written ones. */
    let rest = Buffer.alloc(0);
    if (options.mode === 'append' && existing) prefix = existing.chunks;
    if (options.mode === 'offset') {
      const offset = options.offset ?? 0;
      const size = existing?.size ?? 0;
      if (offset > size) throw new StorageError('EINVAL', 'offset past the end of the file');
      const old = existing ? Buffer.concat(existing.chunks) : Buffer.alloc(0);
      prefix = [old.subarray(0, offset)];
      rest = old.subarray(offset);
    }
    return {
      stream,
      commit: async (signal) => {
        if (!stream.writableFinished) await finished(stream);
        signal?.throwIfAborted();
        const current = dir.entries.get(name);
        if (current?.type === 'dir') throw new StorageError('EISDIR');
        const file = this.newFile([...prefix, ...received]);
        if (current) file.mode = current.mode;
        dir.entries.set(name, file);
        dir.mtime = new Date();
      },
      abort: async () => {
        stream.destroy();
        if (options.mode !== 'replace' && received.length > 0) {
          // Appends and offset writes keep what arrived, as a file system would: in place, nothing truncated.
          const written = received.reduce((n, c) => n + c.length, 0);
          const file = this.newFile([...prefix, ...received, rest.subarray(Math.min(written, rest.length))]);
          if (existing) file.mode = existing.mode;
          dir.entries.set(name, file);
        }
      },
    };
  }

  async mkdir(path: VirtualPath): Promise<void> {
    const dir = this.dirOf(path);
    const name = path[path.length - 1]!;
    if (dir.entries.has(name)) throw new StorageError('EEXIST');
    dir.entries.set(name, this.newDir());
    dir.mtime = new Date();
  }

  async rmdir(path: VirtualPath): Promise<void> {
    const dir = this.dirOf(path);
    const name = path[path.length - 1]!;
    const node = dir.entries.get(name);
    if (!node) throw new StorageError('ENOENT');
    if (node.type !== 'dir') throw new StorageError('ENOTDIR');
    if (node.entries.size > 0) throw new StorageError('ENOTEMPTY');
    dir.entries.delete(name);
  }

  async remove(path: VirtualPath): Promise<void> {
    const dir = this.dirOf(path);
    const name = path[path.length - 1]!;
    const node = dir.entries.get(name);
    if (!node) throw new StorageError('ENOENT');
    if (node.type === 'dir') throw new StorageError('EISDIR');
    dir.entries.delete(name);
  }

  async rename(from: VirtualPath, to: VirtualPath): Promise<void> {
    const source = this.dirOf(from);
    const fromName = from[from.length - 1]!;
    const node = source.entries.get(fromName);
    if (!node) throw new StorageError('ENOENT');
    if (node.type === 'dir' && to.length > from.length && from.every((s, i) => to[i] === s)) {
      throw new StorageError('EINVAL', 'a directory cannot move into itself');
    }
    const target = this.dirOf(to);
    const toName = to[to.length - 1]!;
    const existing = target.entries.get(toName);
    if (existing === node) return; // onto itself: nothing to do (POSIX)
    if (existing?.type === 'dir' && (node.type !== 'dir' || existing.entries.size > 0)) {
      throw new StorageError(node.type === 'dir' ? 'ENOTEMPTY' : 'EISDIR');
    }
    if (existing?.type === 'file' && node.type === 'dir') throw new StorageError('ENOTDIR');
    source.entries.delete(fromName);
    target.entries.set(toName, node);
  }

  async setTime(path: VirtualPath, mtime: Date): Promise<void> {
    this.lookup(path).mtime = mtime;
  }

  async chmod(path: VirtualPath, mode: number): Promise<void> {
    this.lookup(path).mode = mode & 0o777;
  }

  /** HASH: computed by reading the file (there is no stored digest). */
  checksum(path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string> {
    return checksumByReading(this, path, algorithm, start, end);
  }
}
