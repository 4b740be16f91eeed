/**
 * The admin API's routes: one table (method, path, whether it needs a login, what it does), read by the
 * console to dispatch and by openapi.ts to document. Paths use `{name}` for a parameter.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { AdminAccounts } from './accounts.js';
import type { AdminHost } from '../runtime/admin-host.js';
import type { SessionInfo } from '../runtime/session-directory.js';
import { field, fromDb, HttpProblem, readJson, sendJson } from './http.js';
import type { LiveFeed } from './live.js';
import { USER_ROUTES } from './user-routes.js';

export const COOKIE = 'ftpsd_admin';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  /** The logged-in admin (undefined only on routes that need no login). */
  admin: string | undefined;
  /** The client's address. */
  from: string;
  /** HTTPS: the cookie is Secure. */
  secure: boolean;
  cookie: string | undefined;
}

export interface AdminDeps {
  host: AdminHost;
  accounts: AdminAccounts;
  live: LiveFeed;
  /** Logs an admin's change (who, what, from where) and tells the live feed. */
  audit(ctx: RequestContext, action: string, details: Record<string, unknown>): void;
  openapi(): unknown;
}

export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** Needs a login (cookie or bearer token). */
  auth: boolean;
  summary: string;
  /** The success status. */
  status: number;
  /** OpenAPI schema name of the request body, if any. */
  body?: string;
  /** OpenAPI schema name of the response, if JSON. */
  response?: string;
  handle(ctx: RequestContext, deps: AdminDeps): Promise<void> | void;
}

/** The sessions of every part that answered; those that did not are named in a header and logged. */
async function listSessions(ctx: RequestContext, deps: AdminDeps): Promise<SessionInfo[]> {
  const { sessions, unavailable } = await deps.host.sessions.list();
  if (unavailable.length > 0) {
    deps.host.log.warn({ unavailable }, 'admin: some sessions are missing (no answer in time)');
    ctx.res.setHeader('ftpsd-unavailable', unavailable.join(', '));
  }
  return sessions;
}

export function bansJson(deps: AdminDeps): { address: string; until: string }[] {
  return (deps.host.bans()?.throttle.list() ?? []).map((b) => ({ address: b.network, until: new Date(b.until).toISOString() }));
}

function certificateJson(deps: AdminDeps): Record<string, unknown> {
  const c = deps.host.certificate();
  const x = new X509Certificate(c.cert);
  const names = (x.subjectAltName ?? '').split(',').map((n) => n.trim().replace(/^(DNS|IP Address):/, '')).filter((n) => n !== '');
  return { names, fingerprint256: x.fingerprint256, validFrom: new Date(x.validFrom).toISOString(), validTo: new Date(x.validTo).toISOString(), source: c.source };
}

/** An address or a network (`2001:db8::/64`) as a ban names it. */
function banAddress(value: string): string {
  const [ip, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || !ip || isIP(ip) === 0 || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) {
    throw new HttpProblem(400, 'Bad Request', 'not an IP address or network');
  }
  return value;
}

function bansOf(deps: AdminDeps) {
  const t = deps.host.bans();
  if (!t) throw new HttpProblem(409, 'Conflict', 'login bans are off (security.ban)');
  return t;
}

export const ROUTES: Route[] = [
  {
    method: 'GET', path: '/healthz', auth: false, status: 200, summary: 'Liveness: 200 while the server runs, 503 once it stops.',
    handle: ({ res }) => sendJson(res, 200, { status: 'ok' }),
  },
  {
    method: 'POST', path: '/api/login', auth: false, status: 200, body: 'Login', response: 'Admin',
    summary: 'Logs in with an admin account; sets the session cookie (HttpOnly, SameSite=Strict, Secure on HTTPS).',
    handle: async (ctx, deps) => {
      const body = await readJson(ctx.req);
      const name = field(body, 'name', 64);
      const password = field(body, 'password');
      const result = await deps.accounts.login(name, password, ctx.from);
      if (!result.ok && result.busy) throw new HttpProblem(429, 'Too Many Requests', 'too many logins at once; try again');
      if (!result.ok) {
        deps.host.log.warn({ admin: name, from: ctx.from, banned: result.banned }, 'admin login refused');
        throw result.banned ? new HttpProblem(403, 'Forbidden', 'this address is banned') : new HttpProblem(401, 'Unauthorized', 'wrong name or password');
      }
      deps.host.log.info({ admin: name, from: ctx.from }, 'admin logged in');
      const cookie = `${COOKIE}=${result.cookie}; Path=/; HttpOnly; SameSite=Strict${ctx.secure ? '; Secure' : ''}`;
      sendJson(ctx.res, 200, { name }, { 'set-cookie': cookie });
    },
  },
  {
    method: 'POST', path: '/api/logout', auth: true, status: 204, summary: 'Ends the browser session (its cookie stops working).',
    handle: async (ctx, deps) => {
      if (ctx.cookie) await deps.accounts.logout(ctx.cookie);
      deps.host.log.info({ admin: ctx.admin, from: ctx.from }, 'admin logged out');
      ctx.res.writeHead(204, { 'set-cookie': `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${ctx.secure ? '; Secure' : ''}` }).end();
    },
  },
  {
    method: 'POST', path: '/api/tokens', auth: true, status: 201, body: 'NewToken', response: 'CreatedToken',
    summary: 'Creates a bearer token for automation; its value is shown only in this reply.',
    handle: async (ctx, deps) => {
      const body = await readJson(ctx.req);
      const label = body.label === undefined ? 'token' : field(body, 'label', 100);
      const token = await deps.accounts.createToken(ctx.admin!, label);
      deps.audit(ctx, 'token created', { token: token.id, label });
      sendJson(ctx.res, 201, token);
    },
  },
  {
    method: 'GET', path: '/api/tokens', auth: true, status: 200, response: 'Tokens', summary: 'The tokens (without their values).',
    handle: async (ctx, deps) => sendJson(ctx.res, 200, await deps.accounts.listTokens()),
  },
  {
    method: 'DELETE', path: '/api/tokens/{id}', auth: true, status: 204, summary: 'Revokes a token.',
    handle: async (ctx, deps) => {
      if (!(await deps.accounts.revokeToken(ctx.params.id!))) throw new HttpProblem(404, 'Not Found', 'no such token');
      deps.audit(ctx, 'token revoked', { token: ctx.params.id });
      ctx.res.writeHead(204).end();
    },
  },
  {
    method: 'GET', path: '/api/sessions', auth: true, status: 200, response: 'Sessions',
    summary: 'Every live session (of every worker, and with a user database of every node: those of other nodes name their node): user, peer, since, TLS state, cwd and the current transfer.',
    handle: async (ctx, deps) => sendJson(ctx.res, 200, await listSessions(ctx, deps)),
  },
  {
    method: 'DELETE', path: '/api/sessions/{id}', auth: true, status: 204, summary: 'Ends a session, on this node or (with a user database) another (its client gets 421).',
    handle: async (ctx, deps) => {
      const id = ctx.params.id!;
      // Who it was, for the audit line (read before it ends).
      const s = (await deps.host.sessions.list()).sessions.find((x) => x.id === id);
      const result = await deps.host.sessions.end(id, 'Disconnected by an administrator.');
      if (result === 'not-found') throw new HttpProblem(404, 'Not Found', 'no such session');
      if (result === 'unavailable') throw new HttpProblem(504, 'Gateway Timeout', 'the worker or node holding the session did not answer');
      deps.audit(ctx, 'session disconnected', { session: id, ...(s ? { user: s.user, peer: s.peer, ...(s.worker ? { worker: s.worker } : {}), ...(s.node ? { node: s.node } : {}) } : {}) });
      ctx.res.writeHead(204).end();
    },
  },
  {
    method: 'GET', path: '/api/bans', auth: true, status: 200, response: 'Bans', summary: 'The login bans in force.',
    handle: (ctx, deps) => sendJson(ctx.res, 200, bansJson(deps)),
  },
  {
    method: 'POST', path: '/api/bans', auth: true, status: 201, body: 'NewBan', response: 'Bans',
    summary: 'Bans an address (or network) from logging in, for durationMs (default: the ban policy\'s duration); with a user database, on every node.',
    handle: async (ctx, deps) => {
      const body = await readJson(ctx.req);
      const address = banAddress(field(body, 'address', 64));
      const bans = bansOf(deps);
      const d = body.durationMs ?? bans.throttle.policy.durationMs;
      if (typeof d !== 'number' || !Number.isInteger(d) || d < 1000 || d > 365 * 24 * 3600 * 1000) {
        throw new HttpProblem(400, 'Bad Request', '"durationMs" must be an integer from 1000 to one year');
      }
      const ip = address.split('/')[0]!;
      // With a user database the ban is stored there, and its trigger tells every node.
      if (deps.host.userDb) await fromDb(deps.host.userDb.users.ban(bans.throttle.networkOf(ip), Date.now() + d));
      bans.impose(ip, Date.now() + d);
      deps.audit(ctx, 'ban added', { address, durationMs: d });
      deps.live.publish('bans', bansJson(deps));
      sendJson(ctx.res, 201, bansJson(deps));
    },
  },
  {
    method: 'DELETE', path: '/api/bans/{address}', auth: true, status: 204, summary: 'Lifts the ban of an address (or network); with a user database, on every node.',
    handle: async (ctx, deps) => {
      const address = banAddress(ctx.params.address!);
      const bans = bansOf(deps);
      const network = bans.throttle.networkOf(address.split('/')[0]!);
      const lifted = deps.host.userDb ? await fromDb(deps.host.userDb.users.unban(network)) : false;
      if (!lifted && !bans.throttle.list().some((b) => b.network === network)) throw new HttpProblem(404, 'Not Found', 'no ban for this address');
      bans.unban(address.split('/')[0]!);
      deps.audit(ctx, 'ban lifted', { address: network });
      deps.live.publish('bans', bansJson(deps));
      ctx.res.writeHead(204).end();
    },
  },
  // GET, POST /api/users, PATCH and DELETE /api/users/{name}
  ...USER_ROUTES,
  {
    method: 'GET', path: '/api/status', auth: true, status: 200, response: 'Status',
    summary: 'Version, uptime, listeners, workers, certificate, limits and the last reload\'s result.',
    handle: async (ctx, deps) => {
      const l = deps.host.listeners;
      const workers = deps.host.workers();
      sendJson(ctx.res, 200, {
        version: deps.host.version,
        uptimeSeconds: Math.round(process.uptime()),
        listeners: {
          explicit: l.explicit.map((a) => `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`),
          implicit: l.implicit.map((a) => `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`),
        },
        workers: workers.length,
        workerList: workers,
        sessions: (await listSessions(ctx, deps)).length,
        certificate: certificateJson(deps),
        limits: deps.host.limits(),
        lastReload: deps.host.lastReload(),
        usersEditable: deps.host.userDb !== undefined,
        history: deps.live.points,
      });
    },
  },
  {
    method: 'POST', path: '/api/reload', auth: true, status: 200, response: 'Reload', summary: 'Reloads the config file and certificate (as SIGHUP does).',
    handle: async (ctx, deps) => {
      deps.audit(ctx, 'reload', {});
      const result = await deps.host.reload('admin console');
      sendJson(ctx.res, result.ok ? 200 : 422, result);
    },
  },
  {
    method: 'GET', path: '/api/events', auth: true, status: 200, summary: 'Server-Sent Events: sessions (each second while any is open), point (history), bans.',
    handle: (ctx, deps) => {
      if (!deps.live.subscribe(ctx.res)) throw new HttpProblem(503, 'Service Unavailable', 'too many event streams');
    },
  },
  {
    method: 'GET', path: '/api/openapi.json', auth: true, status: 200, summary: 'This API as an OpenAPI 3.1 document.',
    handle: (ctx, deps) => sendJson(ctx.res, 200, deps.openapi()),
  },
];

/** The route for a method and path, with its parameters; `allowed`: the methods the path has. */
export function matchRoute(method: string, path: string): { route?: Route; params: Record<string, string>; allowed: string[] } {
  const allowed: string[] = [];
  for (const route of ROUTES) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    if (route.method === method) return { route, params, allowed };
    allowed.push(route.method);
  }
  return { params: {}, allowed };
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!;
    if (p.startsWith('{')) {
      if (b[i] === '') return undefined;
      try {
        params[p.slice(1, -1)] = decodeURIComponent(b[i]!);
      } catch {
        return undefined;
      }
    } else if (p !== b[i]) return undefined;
  }
  return params;
}
