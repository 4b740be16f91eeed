/**
 * A custom authenticator that asks an HTTP user service who may log in.
 *
 *   node --import tsx examples/http-authenticator.ts [USER_SERVICE_URL]
 *
 * The service answers `POST /login` with a JSON body `{user, password, remoteAddress}`: 200 and
 * `{"name": "alice", "readOnly": false}` for a good password, 401 otherwise. Without a URL this example
 * starts a tiny service of its own on loopback, with the users alice/wonderland and bob/builder
 * (read-only). Each user gets an in-memory home. FTPS with a self-signed certificate, on
 * FTPSD_LISTEN (default 127.0.0.1:2121); try `curl -k --ssl-reqd -u alice:wonderland ftp://127.0.0.1:2121/`.
 *
 * This shows the Authenticator seam in a program of your own (homes in memory here). The `ftpsd` command
 * has this built in, with homes on disk: the `authHook` option (docs/authentication.md). Both answer a
 * service that is down or answers nonsense the same way: `AuthUnavailableError`, so the client gets 421
 * (try again later) instead of 530, and the attempt does not count toward a ban.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import {
  AuthUnavailableError,
  createServer,
  MemoryStorage,
  readOnly,
  readWrite,
  type Authenticator,
  type LoginRequest,
  type LoginResult,
  type Storage,
} from 'ftpsd';

/** What the user service says about a user. */
interface UserRecord {
  name: string;
  readOnly: boolean;
}

/** Logs users in by asking the service; a service that is down or slow lets nobody in (421). */
export class HttpAuthenticator implements Authenticator {
  private readonly homes = new Map<string, Storage>();

  constructor(
    private readonly serviceUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  async login({ user, password, remoteAddress }: LoginRequest): Promise<LoginResult | null> {
    let response: Response;
    try {
      response = await fetch(new URL('/login', this.serviceUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user, password, remoteAddress }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new AuthUnavailableError(`user service unreachable: ${(err as Error).message}`);
    }
    if (response.status === 401 || response.status === 403) return null;
    if (response.status !== 200) throw new AuthUnavailableError(`user service answered ${response.status}`);
    let record: UserRecord;
    try {
      record = (await response.json()) as UserRecord;
    } catch {
      throw new AuthUnavailableError('user service answered something that is not JSON');
    }
    return { storage: this.home(record.name), permissions: record.readOnly ? readOnly : readWrite, name: record.name };
  }

  /** One home per user, kept for all of the user's sessions. */
  private home(name: string): Storage {
    let home = this.homes.get(name);
    if (!home) {
      home = new MemoryStorage({ 'welcome.txt': `Hello ${name}!\n` });
      this.homes.set(name, home);
    }
    return home;
  }
}

/** A user service for the demo: two users, plain passwords, loopback only. */
export async function startUserService(): Promise<{ url: string; close: () => Promise<void> }> {
  const users: Record<string, { password: string; readOnly: boolean }> = {
    alice: { password: 'wonderland', readOnly: false },
    bob: { password: 'builder', readOnly: true },
  };
  const service = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body = (body + chunk).slice(0, 10_000)));
    req.on('end', () => {
      let user: string | undefined;
      let password: string | undefined;
      try {
        ({ user, password } = JSON.parse(body) as { user?: string; password?: string });
      } catch {
        // not JSON: refused below
      }
      const found = req.method === 'POST' && req.url === '/login' && user !== undefined ? users[user] : undefined;
      if (!found || found.password !== password) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: user, readOnly: found.readOnly }));
    });
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  const { port } = service.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => service.close(() => resolve())) };
}

async function main(): Promise<void> {
  const own = process.argv[2] === undefined ? await startUserService() : undefined;
  const url = process.argv[2] ?? own!.url;
  const server = createServer({
    listen: process.env.FTPSD_LISTEN ?? '127.0.0.1:2121',
    tls: 'self-signed',
    authenticator: new HttpAuthenticator(url),
  });
  server.on('login', (e) => console.log(`login: ${e.user} from ${e.remoteAddress}`));
  server.on('login-failed', (e) => console.log(`login failed: ${e.user} from ${e.remoteAddress}`));
  const { explicit } = await server.listen();
  console.log(`user service: ${url}`);
  console.log(`ready: ftp://127.0.0.1:${explicit[0]?.port} (explicit FTPS)`);
  const stop = async () => {
    await server.close();
    await own?.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

// Run as a program (not when imported).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
