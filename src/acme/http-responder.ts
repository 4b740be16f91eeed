/**
 * The http-01 responder: a small HTTP server that answers `GET /.well-known/acme-challenge/TOKEN` with
 * the key authorization of a challenge in progress, and 404 to everything else. Bounded: small header
 * limit, no request bodies read, short timeouts, a cap on connections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { listenOn } from '../base/listen.js';

const PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export class HttpChallengeResponder {
  private readonly tokens = new Map<string, string>();
  private server: Server | undefined;

  constructor(private readonly log: Logger) {}

  set(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }

  remove(token: string): void {
    this.tokens.delete(token);
  }

  /** Starts listening (once); rejects with the system error (EADDRINUSE, EACCES). */
  async listen(host: string, port: number): Promise<AddressInfo> {
    if (this.server) return this.server.address() as AddressInfo;
    const server = createServer({ maxHeaderSize: 4096, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 2_000 }, (req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      const token = path.startsWith(PREFIX) ? path.slice(PREFIX.length) : '';
      const answer = req.method === 'GET' || req.method === 'HEAD' ? (TOKEN.test(token) ? this.tokens.get(token) : undefined) : undefined;
      if (answer === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' }).end('not found\n');
        return;
      }
      this.log.info({ token, from: req.socket.remoteAddress }, 'acme: answered an http-01 challenge');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(answer) }).end(req.method === 'HEAD' ? undefined : answer);
    });
    server.maxConnections = 64;
    server.timeout = 10_000;
    server.on('clientError', (_err, socket) => socket.destroy());
    await listenOn(server, { host, port });
    server.on('error', (err) => this.log.warn({ err: err.message }, 'acme: http-01 responder error'));
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
}
