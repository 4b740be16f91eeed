/**
 * Helpers for the embedding API tests: temp directories, a basic-ftp client, and small waits.
 */
import { Client } from 'basic-ftp';
import type { FtpsdServer } from '../../src/embed/server.js';
import { tempDir as sharedTempDir } from '../helpers/temp-dirs.js';

export { removeTempDirs } from '../helpers/temp-dirs.js';

/** A fresh temp directory, removed by `removeTempDirs()`. */
export const tempDir = (prefix = 'ftpsd-api-'): Promise<string> => sharedTempDir(prefix);

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
