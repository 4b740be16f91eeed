/**
 * The admin API's routes for FTP users (part of routes.ts's table): the list (config file users, and the
 * user database's when one is configured), and with a user database: create, edit (password, home,
 * read-only, quota, networks, enabled), and remove. A change is written to the database, whose trigger
 * notifies every node (LISTEN/NOTIFY): a disabled or removed user's live sessions end with 421 on every
 * node (runtime/user-db.ts), a new user logs in at once anywhere. Config file users are read-only here.
 *
 * (The types are the structural part of routes.ts's Route that these handlers use, so the two files do
 * not import each other.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { hashPassword } from '../auth/password.js';
import { parseNetwork } from '../security/access-list.js';
import type { AdminHost, AdminUserDb } from '../runtime/admin-host.js';
import { NoSuchUserError, UserExistsError, type DbUser, type DbUserChanges } from '../userdb/store.js';
import { fromDb, HttpProblem, readJson, sendJson } from './http.js';

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
}
interface Deps {
  host: AdminHost;
  audit(ctx: Ctx, action: string, details: Record<string, unknown>): void;
}
interface UserRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  auth: true;
  summary: string;
  status: number;
  body?: string;
  response?: string;
  handle(ctx: Ctx, deps: Deps): Promise<void>;
}

const NAME = /^[A-Za-z0-9._@-]{1,255}$/;
const MAX_PASSWORD = 1024;

/** The database, or a 409 when users live only in the config file. */
function database(host: AdminHost): AdminUserDb {
  if (!host.userDb) throw new HttpProblem(409, 'Conflict', 'no user database (--user-db): users are in the config file; edit it and reload');
  return host.userDb;
}

function notConfigUser(host: AdminHost, name: string): void {
  if (host.users().some((u) => u.name === name)) throw new HttpProblem(409, 'Conflict', `user "${name}" is in the config file: edit it there`);
}

function bad(detail: string): HttpProblem {
  return new HttpProblem(400, 'Bad Request', detail);
}

/** The changes a body asks for (create and edit); unknown fields are refused. */
type Writable<T> = { -readonly [K in keyof T]: T[K] };

function changesFrom(body: Record<string, unknown>, allowed: readonly string[]): DbUserChanges & { password?: string } {
  for (const key of Object.keys(body)) if (!allowed.includes(key)) throw bad(`unknown field "${key}"`);
  const out: Writable<DbUserChanges> & { password?: string } = {};
  if (body.password !== undefined) {
    if (typeof body.password !== 'string' || body.password === '' || body.password.length > MAX_PASSWORD) throw bad(`"password" must be a non-empty string of at most ${MAX_PASSWORD} characters`);
    out.password = body.password;
  }
  if (body.home !== undefined) {
    const h = body.home;
    if (h !== null && (typeof h !== 'string' || !isAbsolute(h) || h.includes('\0') || h.length > 4096)) throw bad('"home" must be an absolute path, or null for <root>/<name>');
    out.home = h;
  }
  if (body.readOnly !== undefined) {
    if (typeof body.readOnly !== 'boolean') throw bad('"readOnly" must be true or false');
    out.readOnly = body.readOnly;
  }
  if (body.enabled !== undefined) {
    if (typeof body.enabled !== 'boolean') throw bad('"enabled" must be true or false');
    out.enabled = body.enabled;
  }
  for (const key of ['quotaBytes', 'quotaFiles'] as const) {
    const q = body[key];
    if (q === undefined) continue;
    if (q !== null && (typeof q !== 'number' || !Number.isSafeInteger(q) || q < 0)) throw bad(`"${key}" must be a whole number of at least 0, or null for none`);
    out[key] = q;
  }
  if (body.allowedNetworks !== undefined) {
    const n = body.allowedNetworks;
    if (n !== null) {
      if (!Array.isArray(n) || n.length > 100 || n.some((x) => typeof x !== 'string')) throw bad('"allowedNetworks" must be a list of networks (like "192.0.2.0/24"), or null for anywhere');
      for (const net of n as string[]) {
        try {
          parseNetwork(net);
        } catch {
          throw bad(`"allowedNetworks": ${JSON.stringify(net).slice(0, 80)} is not an address or network`);
        }
      }
    }
    out.allowedNetworks = n as string[] | null;
  }
  return out;
}

/** A database user as the API shows it (never the hash). */
function userJson(u: DbUser, host: AdminHost): Record<string, unknown> {
  return {
    name: u.name,
    source: 'database',
    home: u.home,
    readOnly: u.readOnly,
    enabled: u.enabled,
    quotaBytes: u.quotaBytes,
    quotaFiles: u.quotaFiles,
    allowedNetworks: u.allowedNetworks,
    sessions: host.userSessions(u.name),
  };
}

function userName(params: Record<string, string>): string {
  const name = params.name!;
  if (!NAME.test(name)) throw bad('a user name has letters, digits and . _ @ - only, at most 255');
  return name;
}

export const USER_ROUTES: UserRoute[] = [
  {
    method: 'GET', path: '/api/users', auth: true, status: 200, response: 'Users',
    summary: 'The FTP accounts: the config file\'s (source "config") and, with a user database, the database\'s (source "database").',
    handle: async (ctx, { host }) => {
      const config = host.users().map((u) => ({ ...u, source: 'config', sessions: host.userSessions(u.name) }));
      const db = host.userDb ? (await fromDb(host.userDb.users.list())).map((u) => userJson(u, host)) : [];
      sendJson(ctx.res, 200, [...config, ...db]);
    },
  },
  {
    method: 'POST', path: '/api/users', auth: true, status: 201, body: 'NewUser', response: 'CreatedUser',
    summary: 'Creates a user in the user database (409 without one); without "password" one is generated and shown only in this reply.',
    handle: async (ctx, deps) => {
      const { host } = deps;
      const db = database(host);
      const body = await readJson(ctx.req);
      if (typeof body.name !== 'string' || !NAME.test(body.name)) throw bad('"name" must have letters, digits and . _ @ - only, at most 255');
      const name = body.name;
      const changes = changesFrom(body, ['name', 'password', 'home', 'readOnly', 'enabled', 'quotaBytes', 'quotaFiles', 'allowedNetworks']);
      notConfigUser(host, name);
      const generated = changes.password === undefined ? randomBytes(18).toString('base64url') : undefined;
      const user: DbUser = {
        name,
        passwordHash: await hashPassword(changes.password ?? generated!),
        home: changes.home ?? null,
        readOnly: changes.readOnly ?? false,
        permissions: null,
        rules: [],
        quotaBytes: changes.quotaBytes ?? null,
        quotaFiles: changes.quotaFiles ?? null,
        enabled: changes.enabled ?? true,
        allowedNetworks: changes.allowedNetworks ?? null,
        login: 'password',
        certificates: null,
      };
      try {
        await fromDb(db.users.add(user));
      } catch (err) {
        if ((err as HttpProblem).cause instanceof UserExistsError) throw new HttpProblem(409, 'Conflict', `user "${name}" already exists`);
        throw err;
      }
      deps.audit(ctx, 'user created', { user: name, fields: Object.keys(changes).filter((k) => k !== 'password') });
      sendJson(ctx.res, 201, { ...userJson(user, host), ...(generated !== undefined ? { password: generated } : {}) });
    },
  },
  {
    method: 'PATCH', path: '/api/users/{name}', auth: true, status: 200, body: 'UserChanges', response: 'User',
    summary: 'Changes a database user: password, home, read-only, quotas, allowed networks, enabled ("enabled": false disables it; its sessions on every node end with 421).',
    handle: async (ctx, deps) => {
      const { host } = deps;
      const db = database(host);
      const name = userName(ctx.params);
      notConfigUser(host, name);
      const body = await readJson(ctx.req);
      const { password, ...changes } = changesFrom(body, ['password', 'home', 'readOnly', 'enabled', 'quotaBytes', 'quotaFiles', 'allowedNetworks']);
      const all: DbUserChanges = { ...changes, ...(password !== undefined ? { passwordHash: await hashPassword(password) } : {}) };
      if (Object.keys(all).length === 0) throw bad('nothing to change');
      try {
        await fromDb(db.users.set(name, all));
      } catch (err) {
        if ((err as HttpProblem).cause instanceof NoSuchUserError) throw new HttpProblem(404, 'Not Found', 'no such user');
        throw err;
      }
      const fields = [...Object.keys(changes), ...(password !== undefined ? ['password'] : [])];
      deps.audit(ctx, changes.enabled === false ? 'user disabled' : 'user changed', { user: name, fields });
      const user = await fromDb(db.users.get(name));
      if (!user) throw new HttpProblem(404, 'Not Found', 'no such user');
      sendJson(ctx.res, 200, userJson(user, host));
    },
  },
  {
    method: 'DELETE', path: '/api/users/{name}', auth: true, status: 204,
    summary: 'Removes a database user (its sessions on every node end with 421; its files stay).',
    handle: async (ctx, deps) => {
      const db = database(deps.host);
      const name = userName(ctx.params);
      notConfigUser(deps.host, name);
      try {
        await fromDb(db.users.remove(name));
      } catch (err) {
        if ((err as HttpProblem).cause instanceof NoSuchUserError) throw new HttpProblem(404, 'Not Found', 'no such user');
        throw err;
      }
      deps.audit(ctx, 'user removed', { user: name });
      ctx.res.writeHead(204).end();
    },
  },
];
