/**
 * examples/http-authenticator.ts: a custom authenticator against an HTTP user service, run as a program,
 * with its own loopback service and with one given by URL; clients are basic-ftp (FTPS) and curl.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import { runExample } from './run.js';

async function ftps(port: number, user: string, password: string): Promise<Client> {
  const client = new Client(15_000);
  await client.access({ host: '127.0.0.1', port, user, password, secure: true, secureOptions: { rejectUnauthorized: false } });
  return client;
}

describe('examples/http-authenticator.ts', () => {
  it('with its own user service: alice reads and writes, bob only reads, a wrong password is refused', async () => {
    const ex = await runExample('http-authenticator.ts');
    try {
      const alice = await ftps(ex.port, 'alice', 'wonderland');
      expect((await alice.list()).map((f) => f.name)).toEqual(['welcome.txt']);
      const chunks: Buffer[] = [];
      await alice.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }), 'welcome.txt');
      expect(Buffer.concat(chunks).toString()).toBe('Hello alice!\n');
      await alice.ensureDir('made-by-alice');
      alice.close();
      await ex.waitFor(/^login: alice from 127\.0\.0\.1$/);

      const bob = await ftps(ex.port, 'bob', 'builder');
      await expect(bob.ensureDir('nope')).rejects.toThrow(/550/);
      bob.close();
      await expect(ftps(ex.port, 'alice', 'wrong')).rejects.toThrow(/530/);
      await ex.waitFor(/^login failed: alice from 127\.0\.0\.1$/);
    } finally {
      expect(await ex.stop()).toBe(0);
    }
  });

  it('with a user service given by URL: the service gets the user, the password and the client address', async () => {
    const requests: unknown[] = [];
    const service = createHttpServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      requests.push({ method: req.method, url: req.url, body: JSON.parse(body) });
      const { user, password } = JSON.parse(body) as { user: string; password: string };
      if (user === 'carol' && password === 'pw') res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"carol","readOnly":false}');
      else res.writeHead(403).end();
    });
    service.listen(0, '127.0.0.1');
    await once(service, 'listening');
    const ex = await runExample('http-authenticator.ts', [`http://127.0.0.1:${(service.address() as AddressInfo).port}`]);
    try {
      const curl = spawn('curl', ['-sS', '--ssl-reqd', '-k', '-u', 'carol:pw', `ftp://127.0.0.1:${ex.port}/welcome.txt`]);
      let out = '';
      curl.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const [code] = (await once(curl, 'exit')) as [number];
      expect(code).toBe(0);
      expect(out).toBe('Hello carol!\n');
      expect(requests).toEqual([{ method: 'POST', url: '/login', body: { user: 'carol', password: 'pw', remoteAddress: '127.0.0.1' } }]);
      await expect(ftps(ex.port, 'carol', 'nope')).rejects.toThrow(/530/);
      // The service gone: 421 (try again later), not a wrong password.
      service.closeAllConnections();
      await new Promise((resolve) => service.close(resolve));
      await expect(ftps(ex.port, 'carol', 'pw')).rejects.toThrow(/421 Login service unavailable/);
    } finally {
      expect(await ex.stop()).toBe(0);
      service.close();
    }
  });
});
