/**
 * The tls-alpn-01 responder (RFC 8737): a TLS listener that speaks only `acme-tls/1` and presents, for
 * the name in the SNI, the self-signed challenge certificate carrying the acmeIdentifier extension. Any
 * other handshake (no SNI, an unknown name, another protocol) fails. Bounded by a handshake timeout and
 * a cap on connections.
 */
import type { AddressInfo } from 'node:net';
import { createSecureContext, createServer, type SecureContext, type Server } from 'node:tls';
import type { Logger } from '../logger.js';
import { listenOn } from '../base/listen.js';

export const ACME_TLS_ALPN = 'acme-tls/1';

export class AlpnChallengeResponder {
  private readonly contexts = new Map<string, SecureContext>();
  private server: Server | undefined;

  constructor(private readonly log: Logger) {}

  set(name: string, cert: string, key: string): void {
    this.contexts.set(name.toLowerCase(), createSecureContext({ cert, key }));
  }

  remove(name: string): void {
    this.contexts.delete(name.toLowerCase());
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    if (this.server) return this.server.address() as AddressInfo;
    const server = createServer({
      ALPNProtocols: [ACME_TLS_ALPN],
      handshakeTimeout: 10_000,
      SNICallback: (servername, cb) => {
        const ctx = this.contexts.get(servername.toLowerCase());
        if (ctx) cb(null, ctx);
        else cb(new Error('no challenge for this name'));
      },
    });
    server.maxConnections = 64;
    server.on('secureConnection', (socket) => {
      this.log.info({ name: socket.servername, from: socket.remoteAddress }, 'acme: answered a tls-alpn-01 challenge');
      socket.on('error', () => socket.destroy());
      socket.setTimeout(5_000, () => socket.destroy());
      socket.end();
    });
    server.on('tlsClientError', (_err, socket) => socket.destroy());
    await listenOn(server, { host, port });
    server.on('error', (err) => this.log.warn({ err: err.message }, 'acme: tls-alpn-01 responder error'));
    this.server = server;
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((r) => s.close(() => r()));
  }
}
