/**
 * The admin console (`--admin-listen`): one HTTPS listener (plain HTTP only on loopback with
 * `admin.tls: false`) serving the API of routes.ts and the web page. Every route but /healthz, the page
 * and POST /api/login needs a login: the session cookie, or `Authorization: Bearer TOKEN`. A request
 * that uses the cookie and changes something also needs `X-Requested-With` (a cross-site form cannot
 * send it). Requests for a name the console is not known by get 421, and state-changing requests from
 * another origin 403 (DNS rebinding; host-check.ts). Errors are RFC 9457 problem documents; bodies are
 * bounded; slow clients time out. Sessions and bans come through the AdminHost: one process's, or the
 * whole cluster's.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenAddress } from '../server.js';
import { AdminAccounts } from './accounts.js';
import { HostCheck, hostOf } from './host-check.js';
import { isLoopbackHost, type AdminHost, type AdminStarter } from '../runtime/admin-host.js';
import { cookies, HttpProblem, sendProblem, sendStatic } from './http.js';
import { LiveFeed } from './live.js';
import { OtherNodes, withOtherNodes } from './other-nodes.js';
import { openApiDocument } from './openapi.js';
import { loadPage, type PageFile } from './page.js';
import { bansJson, COOKIE, matchRoute, type AdminDeps, type RequestContext } from './routes.js';
import { listenOn } from '../base/listen.js';

export class AdminConsole {
  private readonly http: Server;
  private readonly sockets = new Set<Socket>();
  private readonly deps: AdminDeps;
  private readonly page: Map<string, PageFile>;
  private readonly hosts: HostCheck;
  readonly secure: boolean;
  private stopping = false;
  private readonly otherNodes: OtherNodes | undefined;

  constructor(
    private host: AdminHost,
    address: ListenAddress,
  ) {
    const settings = host.settings();
    if (!settings.tls && !isLoopbackHost(address.host)) throw new Error(`admin.tls: false is allowed only on a loopback address, not ${address.host}`);
    this.secure = settings.tls;
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    if (this.secure) {
      const c = host.certificate();
      this.http = createHttpsServer({ cert: c.cert, key: c.key, minVersion: 'TLSv1.2' }, handler);
    } else {
      this.http = createHttpServer(handler);
    }
    this.http.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.http.requestTimeout = 30_000;
    this.http.headersTimeout = 10_000;
    this.http.keepAliveTimeout = 5_000;
    this.http.maxHeadersCount = 100;
    const guard = () => {
      const bans = host.bans();
      return bans && { bannedUntil: (a: string) => bans.throttle.bannedUntil(a), recordFailure: (a: string) => bans.failure(a) };
    };
    const accounts = new AdminAccounts(() => host.settings().users, guard, Date.now, host.userDb?.admins);
    // With a user database: the other nodes' sessions too (other-nodes.ts), behind the same source.
    this.otherNodes = host.userDb ? new OtherNodes(host.userDb.registry, host.log) : undefined;
    if (this.otherNodes) host = this.host = { ...host, sessions: withOtherNodes(host.sessions, this.otherNodes) };
    const live = new LiveFeed(host.sessions);
    const doc = openApiDocument(host.version);
    this.hosts = new HostCheck({ listen: address.host, certificate: () => (this.secure ? host.certificate().cert : undefined), extra: () => host.settings().hosts });
    this.deps = {
      host,
      accounts,
      live,
      openapi: () => doc,
      audit: (ctx, action, details) => host.log.info({ admin: ctx.admin, from: ctx.from, action, ...details }, `admin: ${action}`),
    };
    // A ban that started by itself (failed logins) reaches the event streams too.
    host.onBanStarted(() => live.publish('bans', bansJson(this.deps)));
    this.page = loadPage();
  }

  /** The certificate changed (a reload): new admin connections get it. */
  updateTls(material: { cert: string; key: string }): void {
    if (this.secure) (this.http as ReturnType<typeof createHttpsServer>).setSecureContext({ cert: material.cert, key: material.key });
  }

  async listen(address: ListenAddress): Promise<AddressInfo> {
    await listenOn(this.http, { host: address.host, port: address.port });
    this.http.on('error', (err) => this.host.log.error({ err }, 'admin console error'));
    const info = this.http.address() as AddressInfo;
    this.host.log.info({ address: info.address, port: info.port, tls: this.secure }, 'admin console listening');
    return info;
  }

  get address(): AddressInfo | undefined {
    return (this.http.address() as AddressInfo | null) ?? undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.dispatch(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpProblem) {
        if (err.status >= 500 && err.cause) this.host.log.error({ err: err.cause, path: req.url }, `admin request failed: ${err.detail ?? err.title}`);
        return sendProblem(res, err);
      }
      this.host.log.error({ err, path: req.url }, 'admin request failed');
      sendProblem(res, new HttpProblem(500, 'Internal Server Error'));
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    if (!url.startsWith('/')) throw new HttpProblem(400, 'Bad Request');
    const path = url.split('?')[0]!;
    const method = req.method ?? 'GET';
    if (path === '/healthz' && this.stopping) throw new HttpProblem(503, 'Service Unavailable', 'shutting down');
    // Probes may use any name; everything else only the console's own (DNS rebinding).
    if (path !== '/healthz') this.checkHost(req, method, path);
    const page = this.pageFile(path);
    if (page && (method === 'GET' || method === 'HEAD')) return sendStatic(res, page.type, page.body);
    const { route, params, allowed } = matchRoute(method, path);
    if (!route) {
      if (allowed.length) throw new HttpProblem(405, 'Method Not Allowed', `allowed: ${allowed.join(', ')}`);
      throw new HttpProblem(404, 'Not Found');
    }
    const cookie = cookies(req).get(COOKIE);
    const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const from = req.socket.remoteAddress ?? '';
    let admin: string | undefined;
    if (route.auth) {
      if (bearer !== undefined) {
        admin = await this.deps.accounts.fromToken(bearer);
        if (!admin) throw new HttpProblem(401, 'Unauthorized', 'unknown or revoked token');
      } else {
        admin = await this.deps.accounts.fromCookie(cookie);
        if (!admin) throw new HttpProblem(401, 'Unauthorized', 'log in first');
        // CSRF: a cross-site form or navigation cannot set this header.
        if (method !== 'GET' && req.headers['x-requested-with'] === undefined) {
          this.host.log.warn({ from, method, path }, 'admin request refused: cookie without X-Requested-With');
          throw new HttpProblem(403, 'Forbidden', 'requests that change something need the header X-Requested-With');
        }
      }
    }
    const ctx: RequestContext = { req, res, params, admin, from, secure: this.secure, cookie };
    await route.handle(ctx, this.deps);
  }

  private checkHost(req: IncomingMessage, method: string, path: string): void {
    const host = hostOf(req.headers.host);
    if (!this.hosts.allows(host)) {
      this.host.log.warn({ from: req.socket.remoteAddress, host: req.headers.host?.slice(0, 200), method, path }, 'admin request refused: unknown Host');
      throw new HttpProblem(421, 'Misdirected Request', 'this console does not answer to that host name (see admin.hosts)');
    }
    const origin = req.headers.origin;
    if (method !== 'GET' && method !== 'HEAD' && origin !== undefined && !this.hosts.allows(HostCheck.originHost(origin))) {
      this.host.log.warn({ from: req.socket.remoteAddress, origin: origin.slice(0, 200), method, path }, 'admin request refused: foreign Origin');
      throw new HttpProblem(403, 'Forbidden', 'requests from another origin are refused');
    }
  }

  private pageFile(path: string): PageFile | undefined {
    if (path === '/' || path === '/index.html') return this.page.get('index.html');
    if (path === '/app.js' || path === '/app.css') return this.page.get(path.slice(1));
    return undefined;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.stopping = true;
    this.deps.live.close();
    this.otherNodes?.close();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** Starts the console (the CLI gives this to `ftpsd serve`). */
export const startAdminConsole: AdminStarter = async (host, address) => {
  const admin = new AdminConsole(host, address);
  const info = await admin.listen(address);
  return { address: info, updateTls: (m) => admin.updateTls(m), close: () => admin.close() };
};
