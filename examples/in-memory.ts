/**
 * An in-memory FTP server for tests: start one per test (or per file) on a free loopback port, point
 * the code under test at it, then look at what it uploaded, all without touching the disk.
 *
 * ```ts
 * import { startTestFtpServer } from './in-memory.js';
 *
 * const ftp = await startTestFtpServer({ 'in/orders.csv': 'id,qty\n1,2\n' });
 * await myExporter.run({ host: '127.0.0.1', port: ftp.port, user: ftp.user, password: ftp.password });
 * expect(await ftp.read('out/report.txt')).toBe('2 items\n');
 * await ftp.close();
 * ```
 *
 * Run it alone to poke at it: `node --import tsx examples/in-memory.ts` (plain FTP on FTPSD_LISTEN,
 * default 127.0.0.1:2121, user `test`, password `test`).
 */
import { pathToFileURL } from 'node:url';
import { createServer, MemoryStorage, type FtpsdServer, type MemoryTree, type ServerOptions } from 'ftpsd';

export interface TestFtpServer {
  readonly server: FtpsdServer;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The files, as the server sees them. */
  readonly storage: MemoryStorage;
  /** The content of a file (`dir/name`), as text. */
  read(path: string): Promise<string>;
  /** Every path under the root (`dir/`, `dir/file`), sorted. */
  paths(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1, port 0 (a free one), serving `files` from memory to one read-write user.
 * Plain FTP by default (tests rarely need TLS); pass `{ tls: 'self-signed', tlsRequired: 'login' }` for FTPS.
 */
export async function startTestFtpServer(files: MemoryTree = {}, options: Partial<ServerOptions> = {}): Promise<TestFtpServer> {
  const storage = new MemoryStorage(files);
  const server = createServer({
    listen: '127.0.0.1:0',
    tlsRequired: 'off',
    users: [{ name: 'test', password: 'test' }],
    storage,
    // Tests want fast failures, not the production delay that slows password guessing.
    limits: { loginFailureDelayMs: 0 },
    ...options,
  });
  const { explicit } = await server.listen();
  const split = (path: string) => path.split('/').filter(Boolean);
  return {
    server,
    host: '127.0.0.1',
    port: explicit[0]!.port,
    user: 'test',
    password: 'test',
    storage,
    async read(path) {
      const chunks: Buffer[] = [];
      for await (const chunk of await storage.read(split(path))) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString();
    },
    async paths() {
      const out: string[] = [];
      const walk = async (dir: string[]): Promise<void> => {
        for await (const entry of storage.list(dir)) {
          const path = [...dir, entry.name];
          out.push(path.join('/') + (entry.type === 'dir' ? '/' : ''));
          if (entry.type === 'dir') await walk(path);
        }
      };
      await walk([]);
      return out.sort();
    },
    close: () => server.close(),
  };
}

async function main(): Promise<void> {
  const ftp = await startTestFtpServer({ 'hello.txt': 'Hello from memory\n', uploads: {} }, { listen: process.env.FTPSD_LISTEN ?? '127.0.0.1:2121' });
  ftp.server.on('upload', (e) => console.log(`uploaded ${e.path} (${e.bytes} bytes)`));
  console.log(`ready: ftp://127.0.0.1:${ftp.port} (user test, password test)`);
  const stop = async () => {
    await ftp.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
