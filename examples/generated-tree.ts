/**
 * A read-only server over a tree that does not exist anywhere: a Storage that makes its entries up on
 * the fly. `/numbers` holds a million files, `/numbers/1` to `/numbers/1000000`, each a few lines about
 * its number; nothing is stored, and listings are generated while they are sent (a million-line LIST
 * never sits in memory).
 *
 *   node --import tsx examples/generated-tree.ts
 *
 * Anonymous FTP (users `anonymous` or `ftp`, any password) on FTPSD_LISTEN (default 127.0.0.1:2121):
 * `curl ftp://127.0.0.1:2121/numbers/42` prints the file about 42; `curl -l ftp://127.0.0.1:2121/numbers/`
 * lists a million names.
 */
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  checksumByReading,
  createServer,
  readOnly,
  StorageError,
  type FileStat,
  type HashAlgorithm,
  type ReadOptions,
  type Storage,
  type Upload,
  type VirtualPath,
} from 'ftpsd';

/** All entries share one modification time: the tree never changes. */
const BIRTH = new Date('2024-01-01T00:00:00Z');

const README = 'Files about numbers: /numbers/1 to /numbers/N. Generated on the fly; nothing here is stored.\n';

/** The tree: `/README.txt`, `/numbers/`, `/numbers/1` ... `/numbers/<count>`. */
export class NumbersStorage implements Storage {
  constructor(readonly count = 1_000_000) {}

  /** The content of `/numbers/<n>`. */
  static content(n: number): Buffer {
    const square = BigInt(n) * BigInt(n);
    return Buffer.from(`number: ${n}\nsquare: ${square}\nhex: ${n.toString(16)}\nbinary: ${n.toString(2)}\n${n % 2 === 0 ? 'even' : 'odd'}\n`);
  }

  /** The number a name stands for, if it is one of ours (`42`, never `042` or `4.2`). */
  private number(name: string): number | undefined {
    if (!/^[1-9]\d{0,15}$/.test(name)) return undefined;
    const n = Number(name);
    return n <= this.count ? n : undefined;
  }

  private file(name: string, size: number): FileStat {
    return { name, type: 'file', size, mtime: BIRTH, mode: 0o444, unique: `n${name}` };
  }

  private dir(name: string): FileStat {
    return { name, type: 'dir', size: 0, mtime: BIRTH, mode: 0o555 };
  }

  async stat(path: VirtualPath): Promise<FileStat> {
    const [first, second, ...rest] = path;
    if (first === undefined) return this.dir('/');
    if (rest.length === 0 && second === undefined && first === 'README.txt') return this.file(first, Buffer.byteLength(README));
    if (first === 'numbers' && second === undefined) return this.dir('numbers');
    const n = first === 'numbers' && rest.length === 0 && second !== undefined ? this.number(second) : undefined;
    if (n === undefined) throw new StorageError('ENOENT');
    return this.file(second!, NumbersStorage.content(n).length);
  }

  /** Generated as it is read: a client that lists /numbers pulls the entries one batch at a time. */
  async *list(path: VirtualPath): AsyncIterable<FileStat> {
    const st = await this.stat(path);
    if (st.type !== 'dir') throw new StorageError('ENOTDIR');
    if (path.length === 0) {
      yield this.file('README.txt', Buffer.byteLength(README));
      yield this.dir('numbers');
      return;
    }
    for (let n = 1; n <= this.count; n++) yield this.file(String(n), NumbersStorage.content(n).length);
  }

  async read(path: VirtualPath, options: ReadOptions = {}): Promise<Readable> {
    const st = await this.stat(path);
    if (st.type === 'dir') throw new StorageError('EISDIR');
    const content = path[0] === 'README.txt' ? Buffer.from(README) : NumbersStorage.content(Number(path[1]));
    return Readable.from([content.subarray(options.start ?? 0)]);
  }

  /** HASH works too: computed from what `read` returns. */
  checksum(path: VirtualPath, algorithm: HashAlgorithm, start: number, end: number): Promise<string> {
    return checksumByReading(this, path, algorithm, start, end);
  }

  // Read-only: every change is refused (the permissions already refuse them; this is the backstop).
  async write(): Promise<Upload> {
    throw new StorageError('EROFS');
  }
  async mkdir(): Promise<void> {
    throw new StorageError('EROFS');
  }
  async rmdir(): Promise<void> {
    throw new StorageError('EROFS');
  }
  async remove(): Promise<void> {
    throw new StorageError('EROFS');
  }
  async rename(): Promise<void> {
    throw new StorageError('EROFS');
  }
}

/** Starts the server; `storage` can be swapped (tests count what gets generated). */
export async function startNumbersServer(listen = process.env.FTPSD_LISTEN ?? '127.0.0.1:2121', storage: Storage = new NumbersStorage()) {
  const server = createServer({
    listen,
    tlsRequired: 'off',
    // Everyone is anonymous here: any user name and password log in, read-only.
    authenticator: { login: async () => ({ storage, permissions: readOnly, name: 'anonymous', anonymous: true }) },
  });
  const { explicit } = await server.listen();
  return { server, port: explicit[0]!.port };
}

async function main(): Promise<void> {
  const { server, port } = await startNumbersServer();
  console.log(`ready: ftp://127.0.0.1:${port} (anonymous, read-only)`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
