/**
 * Starts a real ftpsd on loopback, port 0, with a temporary root on disk (or memory storage), for tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FtpServer, type FtpServerOptions } from '../../src/server.js';
import { UserAuthenticator, type UserAccount } from '../../src/auth/users.js';
import { generateSelfSigned, type GeneratedCert } from '../../src/tls/self-signed.js';
import type { Storage } from '../../src/storage/storage.js';

let certPromise: Promise<GeneratedCert> | undefined;
/** One generated certificate per test process. */
export function testCert(): Promise<GeneratedCert> {
  certPromise ??= generateSelfSigned();
  return certPromise;
}

export const USER = 'alice';
export const PASS = 'secret';
export const RO_USER = 'bob';
export const RO_PASS = 'readonly';

export interface TestServerOptions extends Partial<Omit<FtpServerOptions, 'authenticator'>> {
  /** Host to listen on (default 127.0.0.1). */
  host?: string;
  /** Also listen for implicit FTPS. */
  implicit?: boolean;
  /** Use this storage for every user instead of a temp dir. */
  storage?: Storage;
  anonymous?: boolean;
  users?: UserAccount[];
  authenticator?: FtpServerOptions['authenticator'];
}

export interface TestServer {
  server: FtpServer;
  host: string;
  port: number;
  implicitPort: number | undefined;
  /** The users' root directory on disk (empty string with memory storage). */
  root: string;
  cert: GeneratedCert;
  close(): Promise<void>;
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const cert = await testCert();
  const host = options.host ?? '127.0.0.1';
  const root = options.storage ? '' : await mkdtemp(join(tmpdir(), 'ftpsd-test-'));
  const home = options.storage ?? root;
  const users: UserAccount[] = options.users ?? [
    { name: USER, password: { plain: PASS }, home },
    { name: RO_USER, password: { plain: RO_PASS }, home, readOnly: true },
  ];
  const { implicit, storage: _s, anonymous, users: _u, authenticator, ...rest } = options;
  const server = new FtpServer({
    listen: [{ host, port: 0 }],
    ...(implicit ? { implicitListen: [{ host, port: 0 }] } : {}),
    tls: cert,
    tlsRequired: 'off',
    limits: { loginFailureDelayMs: 10 },
    ...rest,
    authenticator: authenticator ?? new UserAuthenticator(users, anonymous ? { home } : undefined),
  });
  const addresses = await server.listen();
  return {
    server,
    host,
    port: addresses.explicit[0]!.port,
    implicitPort: addresses.implicit[0]?.port,
    root,
    cert,
    async close() {
      await server.close();
      if (root) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Starts a server, runs `body` with it and closes it afterwards, also when `body` throws. */
export async function usingServer<T>(options: TestServerOptions, body: (t: TestServer) => Promise<T>): Promise<T> {
  const t = await startServer(options);
  try {
    return await body(t);
  } finally {
    await t.close();
  }
}
