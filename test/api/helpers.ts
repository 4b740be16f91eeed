/**
 * Helpers for the embedding API tests: temp directories, a basic-ftp client, and small waits.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import type { FtpsdServer } from '../../src/embed/server.js';

const dirs: string[] = [];

/** A fresh temp directory, removed by `removeTempDirs()`. */
export async function tempDir(prefix = 'ftpsd-api-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** The first explicit listener's port. */
export function portOf(server: FtpsdServer): number {
  const port = server.addresses?.explicit[0]?.port;
  if (port === undefined) throw new Error('the server does not listen');
  return port;
}

/** A basic-ftp client logged in to `server` (explicit FTPS unless `secure: false`). */
export async function connect(server: FtpsdServer, user: string, password: string, options: { secure?: boolean; port?: number } = {}): Promise<Client> {
  const client = new Client(15_000);
  const secure = options.secure ?? true;
  await client.access({
    host: '127.0.0.1',
    port: options.port ?? portOf(server),
    user,
    password,
    secure,
    ...(secure ? { secureOptions: { rejectUnauthorized: false } } : {}),
  });
  return client;
}

/** Resolves when `predicate` holds, checked after each of `server`'s events of that name. */
export function nextEvent<T>(server: FtpsdServer, name: Parameters<FtpsdServer['once']>[0]): Promise<T> {
  return new Promise((resolve) => server.once(name, ((e: T) => resolve(e)) as never));
}
