/**
 * Upload post-processing with events: every file uploaded into `/incoming` is hashed (SHA-256), moved
 * to `/processed`, and its hash added to `/processed/SHA256SUMS` (the format `sha256sum -c` reads).
 *
 *   node --import tsx examples/upload-hook.ts [ROOT]
 *
 * ROOT (default: a new temp directory) is served to the user `drop` (password `box`) over plain FTP or
 * FTPS (self-signed), on FTPSD_LISTEN (default 127.0.0.1:2121):
 * `curl -T report.pdf ftp://drop:box@127.0.0.1:2121/incoming/`.
 *
 * The `upload` event comes once the file is complete and in place (after the upload committed), so it
 * can be read and moved at once. Work is queued one file at a time, so SHA256SUMS never interleaves.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer, hashStream, LocalStorage, resolvePath, type Storage } from 'ftpsd';

/** Hashes `path` (a virtual path like `/incoming/a.txt`), moves it to /processed and records the hash. */
export async function processUpload(storage: Storage, path: string): Promise<{ sha256: string; movedTo: string }> {
  const from = resolvePath([], path);
  const name = from[from.length - 1]!;
  const sha256 = await hashStream(await storage.read(from), 'SHA-256');
  const to = ['processed', name];
  await storage.rename(from, to);
  const sums = await storage.write(['processed', 'SHA256SUMS'], { mode: 'append' });
  sums.stream.end(`${sha256}  ${name}\n`);
  await sums.commit();
  return { sha256, movedTo: '/' + to.join('/') };
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'ftpsd-upload-hook-')));
  const storage = new LocalStorage(root);
  for (const dir of ['incoming', 'processed']) await storage.mkdir([dir]).catch(() => {});
  const server = createServer({
    listen: process.env.FTPSD_LISTEN ?? '127.0.0.1:2121',
    tls: 'self-signed',
    tlsRequired: 'off',
    storage,
    users: [
      {
        name: 'drop',
        password: 'box',
        // Upload into /incoming; read /processed; no deleting or overwriting anything.
        permissions: ['list', 'read'],
        rules: [{ path: '/incoming', allow: ['write'] }],
      },
    ],
  });

  let queue = Promise.resolve();
  server.on('upload', (e) => {
    if (!e.path.startsWith('/incoming/')) return;
    queue = queue.then(async () => {
      try {
        const { sha256, movedTo } = await processUpload(storage, e.path);
        console.log(`processed ${e.path} sha256=${sha256} -> ${movedTo}`);
      } catch (err) {
        console.error(`could not process ${e.path}: ${(err as Error).message}`);
      }
    });
  });

  const { explicit } = await server.listen();
  console.log(`root: ${root}`);
  console.log(`ready: ftp://127.0.0.1:${explicit[0]?.port} (user drop, password box)`);
  const stop = async () => {
    await server.close();
    await queue;
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
