/**
 * The metrics HTTP endpoint, on an address of its own (off unless asked for: `--metrics-listen`):
 *
 *   GET /metrics   Prometheus text format
 *   GET /healthz   200 `ok` while the server runs, 503 `shutting down` once it is stopping
 *
 * Anything else is 404 (405 for other methods). It has no authentication: listen on loopback or a
 * management network, or put it behind a proxy that checks who asks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenAddress } from '../server.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { FtpMetrics } from './metrics.js';
import { listenOn } from '../base/listen.js';

/** What the endpoint serves: an FtpMetrics, or the aggregate of a cluster's workers (src/cluster/). */
export type MetricsView = Pick<FtpMetrics, 'metrics' | 'contentType' | 'shuttingDown'> & Partial<Pick<FtpMetrics, 'degraded'>>;

export class MetricsEndpoint {
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly metrics: MetricsView,
    private readonly log: Logger = silentLogger,
  ) {
    this.http = createServer((req, res) => void this.handle(req, res));
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // Slow or idle scrapers cannot hold sockets for long.
    this.http.requestTimeout = 10_000;
    this.http.headersTimeout = 10_000;
    this.http.keepAliveTimeout = 5_000;
  }

  async listen(address: ListenAddress): Promise<AddressInfo> {
    await listenOn(this.http, { host: address.host, port: address.port, ...(address.host === '::' ? { ipv6Only: false } : {}) });
    this.http.on('error', (err) => this.log.error({ err }, 'metrics endpoint error'));
    const info = this.http.address() as AddressInfo;
    this.log.info({ address: info.address, port: info.port }, 'metrics endpoint listening');
    return info;
  }

  get address(): AddressInfo | undefined {
    return (this.http.address() as AddressInfo | null) ?? undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path !== '/metrics' && path !== '/healthz') return send(404, 'text/plain; charset=utf-8', 'not found: try /metrics or /healthz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    if (path === '/healthz') {
      if (this.metrics.shuttingDown) return send(503, 'text/plain; charset=utf-8', 'shutting down\n');
      const degraded = this.metrics.degraded?.();
      return send(200, 'text/plain; charset=utf-8', degraded ? `degraded: ${degraded}\n` : 'ok\n');
    }
    try {
      send(200, this.metrics.contentType, await this.metrics.metrics());
    } catch (err) {
      this.log.error({ err }, 'collecting metrics failed');
      send(500, 'text/plain; charset=utf-8', 'collecting metrics failed\n');
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
