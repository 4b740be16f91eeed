/**
 * The admin API over real HTTPS against `ftpsd serve` (dist/; run `npm run build` first): every route,
 * refusals without a login, with a wrong token and for a forged cross-site request, problem documents
 * for bad input, a live curl upload seen and disconnected (421), bans imposed and lifted. Every answer
 * is checked against the OpenAPI document (its status must be documented for its route).
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { readFile, writeFile } from 'node:fs/promises';
import { hashPassword } from '../../src/auth/password.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/admin/openapi.js';
import { matchRoute, ROUTES } from '../../src/admin/routes.js';
import { assertBuilt, cleanEnv, curl, killAll, removeTempDirs } from '../cli/cli.js';
import { until } from '../helpers/poll.js';
import { request } from 'node:https';
import { ADMIN, call as rawCall, FTP_USER, login, startAdminServer, type AdminServer, type RequestOptions } from './admin-server.js';

let srv: AdminServer;
let cookie: string;
const seen: { method: string; route: string; status: number }[] = [];

/** A request, its status recorded for the OpenAPI check. */
async function call(method: string, path: string, options?: RequestOptions) {
  const r = await rawCall(srv.base, method, path, options);
  const { route } = matchRoute(method, path.split('?')[0]!);
  if (route) seen.push({ method, route: route.path, status: r.status });
  return r;
}

const XHR = { 'x-requested-with': 'test' };

beforeAll(async () => {
  assertBuilt();
  srv = await startAdminServer();
  cookie = await login(srv.base);
}, 60_000);

afterAll(async () => {
  await srv?.served.stop();
  killAll();
  await removeTempDirs();
});

describe('admin API', () => {
  it('answers /healthz without a login, and nothing else', async () => {
    const h = await call('GET', '/healthz');
    expect(h.status).toBe(200);
    for (const r of ROUTES.filter((r) => r.auth)) {
      const path = r.path.replace('{id}', 'x').replace('{address}', '192.0.2.1');
      const res = await call(r.method, path, r.method === 'GET' ? {} : { body: {}, headers: XHR });
      expect(res.status, `${r.method} ${r.path}`).toBe(401);
      expect(res.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(res.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('refuses a wrong password and a wrong or malformed token', async () => {
    expect((await call('POST', '/api/login', { body: { name: ADMIN.name, password: 'wrong' } })).status).toBe(401);
    expect((await call('POST', '/api/login', { body: { name: 'nobody', password: ADMIN.password } })).status).toBe(401);
    expect((await call('GET', '/api/sessions', { token: 'ftpsd_000000000000_' + 'A'.repeat(43) })).status).toBe(401);
    expect((await call('GET', '/api/sessions', { token: 'garbage' })).status).toBe(401);
    // A bad token is not rescued by a good cookie.
    expect((await call('GET', '/api/sessions', { token: 'garbage', cookie })).status).toBe(401);
  });

  it('sets a cookie that is HttpOnly, SameSite=Strict and Secure', async () => {
    const r = await call('POST', '/api/login', { body: ADMIN });
    expect(r.status).toBe(200);
    const set = String(r.headers['set-cookie']);
    expect(set).toMatch(/^ftpsd_admin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
  });

  it('refuses a forged cross-site request (cookie without X-Requested-With)', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/reload', {}],
      ['POST', '/api/bans', { address: '192.0.2.9' }],
      ['DELETE', '/api/sessions/x', undefined],
      ['POST', '/api/tokens', {}],
      ['POST', '/api/logout', {}],
    ] as const) {
      const r = await call(method, path, { cookie, ...(body ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.json().detail).toMatch(/X-Requested-With/);
    }
    // A form post (text/plain) with the header is still refused: only JSON is read.
    const form = await call('POST', '/api/bans', { cookie, headers: { ...XHR, 'content-type': 'text/plain' }, body: '{"address":"192.0.2.9"}' });
    expect(form.status).toBe(415);
    expect((await call('GET', '/api/bans', { cookie })).json()).toEqual([]);
  });

  it('answers bad input with problem documents', async () => {
    const bad = await call('POST', '/api/bans', { cookie, headers: XHR, body: '{not json' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400 });
    expect((await call('POST', '/api/bans', { cookie, headers: XHR, body: { address: 'not-an-ip' } })).status).toBe(400);
    expect((await call('POST', '/api/bans', { cookie, headers: XHR, body: { address: '192.0.2.1', durationMs: -5 } })).status).toBe(400);
    expect((await call('POST', '/api/login', { body: { name: ADMIN.name } })).status).toBe(400);
    const big = await call('POST', '/api/tokens', { cookie, headers: XHR, body: { label: 'x'.repeat(20_000) } });
    expect(big.status).toBe(413);
    expect((await call('DELETE', '/api/sessions/no-such', { cookie, headers: XHR })).status).toBe(404);
    expect((await call('DELETE', '/api/tokens/000000000000', { cookie, headers: XHR })).status).toBe(404);
    expect((await call('DELETE', '/api/bans/192.0.2.200', { cookie, headers: XHR })).status).toBe(404);
    expect((await rawCall(srv.base, 'PUT', '/api/sessions')).status).toBe(405);
    expect((await rawCall(srv.base, 'GET', '/api/nothing')).status).toBe(404);
  });

  it('makes, uses, lists and revokes bearer tokens (shown once, no X-Requested-With needed)', async () => {
    const made = await call('POST', '/api/tokens', { cookie, headers: XHR, body: { label: 'ci' } });
    expect(made.status).toBe(201);
    const { id, token } = made.json() as { id: string; token: string };
    expect(token).toMatch(/^ftpsd_[0-9a-f]{12}_/);
    expect((await call('GET', '/api/sessions', { token })).status).toBe(200);
    expect((await call('POST', '/api/bans', { token, body: { address: '192.0.2.50' } })).status).toBe(201);
    const list = await call('GET', '/api/tokens', { token });
    expect(list.json()).toEqual([expect.objectContaining({ id, label: 'ci', admin: ADMIN.name })]);
    expect(list.body).not.toContain(token.slice('ftpsd_'.length + 13));
    expect((await call('DELETE', `/api/tokens/${id}`, { token })).status).toBe(204);
    expect((await call('GET', '/api/sessions', { token })).status).toBe(401);
    expect((await call('DELETE', '/api/bans/192.0.2.50', { cookie, headers: XHR })).status).toBe(204);
  });

  it('shows users, status, the OpenAPI document and reloads', async () => {
    const users = await call('GET', '/api/users', { cookie });
    expect(users.json()).toEqual([expect.objectContaining({ name: FTP_USER.name, readOnly: false, sessions: 0 })]);
    const status = (await call('GET', '/api/status', { cookie })).json();
    expect(status).toMatchObject({ version: expect.any(String), workers: 1, workerList: [{ worker: 1, pid: expect.any(Number), state: 'listening', sessions: 0 }], listeners: { explicit: [`127.0.0.1:${srv.ftpPort}`] } });
    expect(status.certificate).toMatchObject({ source: 'generated', fingerprint256: expect.stringMatching(/^[0-9A-F:]{95}$/) });
    expect(status.certificate.names).toContain('localhost');
    const doc = await call('GET', '/api/openapi.json', { cookie });
    expect(doc.json()).toEqual(openApiDocument(status.version));
    const reload = await call('POST', '/api/reload', { cookie, headers: XHR });
    expect(reload.status).toBe(200);
    expect(reload.json()).toMatchObject({ ok: true });
    expect((await call('GET', '/api/status', { cookie })).json().lastReload).toMatchObject({ ok: true, reason: 'admin console' });
  });

  it('shows a live upload with its progress, and ends it with 421', async () => {
    const local = join(srv.dir, 'big.bin');
    await writeFile(local, Buffer.alloc(4 * 1024 * 1024, 7));
    const client = spawn('curl', ['-sS', '-v', '--max-time', '60', '--noproxy', '*', '--ssl-reqd', '-k', '--limit-rate', '100k', '-u', `${FTP_USER.name}:${FTP_USER.password}`, '-T', local, `ftp://127.0.0.1:${srv.ftpPort}/big.bin`], { env: cleanEnv() });
    let stderr = '';
    client.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => client.once('close', r));
    const streamed = readEvents(cookie, (text) => /event: sessions\ndata: \[\{[^\n]*"transfer":\{"direction":"upload"/.test(text));
    let first = 0;
    await until(async () => {
      const list = (await call('GET', '/api/sessions', { cookie })).json() as any[];
      const t = list.find((s) => s.user === FTP_USER.name)?.transfer;
      if (t && t.bytes > 0) first = t.bytes;
      return first > 0;
    }, 'the upload in /api/sessions');
    let session: any;
    await until(async () => {
      const list = (await call('GET', '/api/sessions', { cookie })).json() as any[];
      session = list.find((s) => s.user === FTP_USER.name);
      return session?.transfer?.bytes > first;
    }, 'the upload to move');
    expect(await streamed).toBe(200);
    seen.push({ method: 'GET', route: '/api/events', status: 200 });
    expect(session).toMatchObject({ peer: '127.0.0.1', cwd: '/', tls: { control: true, dataProtection: 'private' }, transfer: { direction: 'upload', path: '/big.bin', expectedSize: null } });
    expect(session.transfer.rate).toBeGreaterThan(0);
    const del = await call('DELETE', `/api/sessions/${encodeURIComponent(session.id)}`, { cookie, headers: XHR });
    expect(del.status).toBe(204);
    // curl does not read the control connection while it sends: it sees the data connection end.
    expect(await exited).not.toBe(0);
    expect((await call('GET', '/api/sessions', { cookie })).json()).toEqual([]);
    expect(srv.served.stdout).toMatch(/"admin":"admin","from":"127\.0\.0\.1","action":"session disconnected"/);
  }, 60_000);

  it('ends a running download with 421 on the control connection (Python ftplib reads it)', async () => {
    await writeFile(join(srv.dir, 'root', 'down.bin'), Buffer.alloc(8 * 1024 * 1024, 1));
    // A slow reader (about 160 KiB/s); after the data connection ends, ftplib reads the final reply.
    const script = [
      'import ftplib, ssl, sys, time',
      'ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE',
      'class F(ftplib.FTP_TLS):',
      '    def ntransfercmd(self, cmd, rest=None):',
      '        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)',
      '        return self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session), size',
      `f = F(context=ctx, timeout=30); f.connect('127.0.0.1', ${srv.ftpPort}); f.login('${FTP_USER.name}', '${FTP_USER.password}'); f.prot_p()`,
      'try:',
      "    f.retrbinary('RETR down.bin', lambda b: time.sleep(0.05), blocksize=8192)",
      '    print("completed")',
      'except ftplib.all_errors as e:',
      '    pass',
      '# What the control connection says after the data connection ended.',
      'try:',
      '    print("reply:", f.getline())',
      'except ftplib.all_errors as e:',
      '    print("error:", e)',
    ].join('\n');
    const client = spawn('python3', ['-c', script], { env: cleanEnv() });
    let stdout = '';
    client.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const exited = new Promise<number | null>((r) => client.once('close', r));
    let id = '';
    await until(async () => {
      const s = ((await call('GET', '/api/sessions', { cookie })).json() as any[]).find((x) => x.transfer?.direction === 'download' && x.transfer.bytes > 0);
      id = s?.id ?? '';
      return id !== '';
    }, 'the download in /api/sessions');
    const download = ((await call('GET', '/api/sessions', { cookie })).json() as any[]).find((x) => x.id === id);
    expect(download.transfer).toMatchObject({ direction: 'download', path: '/down.bin', expectedSize: 8 * 1024 * 1024 });
    expect((await call('DELETE', `/api/sessions/${encodeURIComponent(id)}`, { cookie, headers: XHR })).status).toBe(204);
    await exited;
    expect(stdout.trim()).toBe('reply: 421 Disconnected by an administrator.');
  }, 60_000);

  it('bans an address and lifts the ban (FTP and admin logins alike)', async () => {
    const ban = await call('POST', '/api/bans', { cookie, headers: XHR, body: { address: '127.0.0.1', durationMs: 600_000 } });
    expect(ban.status).toBe(201);
    expect(ban.json()).toEqual([{ address: '127.0.0.1', until: expect.any(String) }]);
    const refused = await curl(['--ssl-reqd', '-k', '-u', `${FTP_USER.name}:${FTP_USER.password}`, `ftp://127.0.0.1:${srv.ftpPort}/`]);
    expect(refused.code).not.toBe(0);
    const adminRefused = await call('POST', '/api/login', { body: ADMIN });
    expect(adminRefused.status).toBe(403);
    expect((await call('DELETE', '/api/bans/127.0.0.1', { cookie, headers: XHR })).status).toBe(204);
    expect((await curl(['--ssl-reqd', '-k', '-u', `${FTP_USER.name}:${FTP_USER.password}`, `ftp://127.0.0.1:${srv.ftpPort}/`])).code).toBe(0);
    expect(srv.served.stdout).toMatch(/"action":"ban lifted","address":"127\.0\.0\.1"/);
  });

  it('counts failed admin logins toward a ban', async () => {
    // The default policy bans after 10 failures (security.ban.failures).
    for (let i = 0; i < 10; i++) await call('POST', '/api/login', { body: { name: ADMIN.name, password: `wrong-${i}` } });
    expect((await call('POST', '/api/login', { body: ADMIN })).status).toBe(403);
    expect((await call('GET', '/api/bans', { cookie })).json()).toEqual([{ address: '127.0.0.1', until: expect.any(String) }]);
    expect((await call('DELETE', '/api/bans/127.0.0.1', { cookie, headers: XHR })).status).toBe(204);
    expect((await call('POST', '/api/login', { body: ADMIN })).status).toBe(200);
  });

  it('runs at most 4 password checks at once (429 for more)', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => call('POST', '/api/login', { body: { name: ADMIN.name, password: `wrong-${i}` } })));
    const statuses = results.map((r) => r.status);
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(1);
    expect(results.find((r) => r.status === 429)!.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
    await call('DELETE', '/api/bans/127.0.0.1', { cookie, headers: XHR });
  });

  it('reads admin.users anew after a reload: an added admin logs in, a removed one is out', async () => {
    const original = await readFile(srv.file, 'utf8');
    const bob = { name: 'bob', password: 'bob-Secret-2' };
    await writeFile(srv.file, `${original.trimEnd()}\n    - {name: bob, password: "${await hashPassword(bob.password)}"}\n`);
    expect((await call('POST', '/api/reload', { cookie, headers: XHR })).json()).toMatchObject({ ok: true, changed: ['admin'] });
    const bobCookie = String((await call('POST', '/api/login', { body: bob })).headers['set-cookie']).split(';')[0]!;
    expect((await call('GET', '/api/sessions', { cookie: bobCookie })).status).toBe(200);
    await writeFile(srv.file, original);
    expect((await call('POST', '/api/reload', { cookie, headers: XHR })).json()).toMatchObject({ ok: true, changed: ['admin'] });
    expect((await call('GET', '/api/sessions', { cookie: bobCookie })).status).toBe(401);
  });

  it('follows a reload that names other certificate files: the admin listener presents the new certificate', async () => {
    const pair = await generateSelfSigned({ names: ['reloaded.example'] });
    await writeFile(join(srv.dir, 'etc', 'new.crt'), pair.cert, { mode: 0o600 });
    await writeFile(join(srv.dir, 'etc', 'new.key'), pair.key, { mode: 0o600 });
    const original = await readFile(srv.file, 'utf8');
    expect(await adminFingerprint()).not.toBe(pair.fingerprint256);
    await writeFile(srv.file, `tls: {cert: new.crt, key: new.key}\n${original}`);
    const r = await call('POST', '/api/reload', { cookie, headers: XHR });
    expect(r.json()).toMatchObject({ ok: true, changed: expect.arrayContaining(['tls']) });
    expect(await adminFingerprint()).toBe(pair.fingerprint256);
    expect((await call('GET', '/api/status', { cookie })).json().certificate.fingerprint256).toBe(pair.fingerprint256);
    await writeFile(srv.file, original);
    expect((await call('POST', '/api/reload', { cookie, headers: XHR })).json()).toMatchObject({ ok: true });
    expect(await adminFingerprint()).not.toBe(pair.fingerprint256);
  });

  it('logs out: the cookie stops working', async () => {
    const c = await login(srv.base);
    expect((await call('POST', '/api/logout', { cookie: c, headers: XHR })).status).toBe(204);
    expect((await call('GET', '/api/sessions', { cookie: c })).status).toBe(401);
  });

  it('without a user database, users cannot be changed here (409, a problem document)', async () => {
    for (const [method, path, body] of [
      ['POST', '/api/users', { name: 'zed', password: 'zed-Pass-1' }],
      ['PATCH', `/api/users/${FTP_USER.name}`, { enabled: false }],
      ['DELETE', `/api/users/${FTP_USER.name}`, undefined],
    ] as const) {
      const r = await call(method, path, { cookie, headers: XHR, ...(body ? { body } : {}) });
      expect(r.status, `${method} ${path}`).toBe(409);
      expect(r.json().detail).toContain('no user database');
    }
    const status = (await call('GET', '/api/status', { cookie })).json();
    expect(status.usersEditable).toBe(false);
  });

  it('every route was called, and every answer is documented in the OpenAPI document', () => {
    const doc = openApiDocument('x') as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(Object.keys(doc.paths).sort()).toEqual([...new Set(ROUTES.map((r) => r.path))].sort());
    for (const r of ROUTES) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path} in the document`).toBeDefined();
      const statuses = seen.filter((s) => s.method === r.method && s.route === r.path).map((s) => s.status);
      // User changes need a user database: test/admin/admin-db.test.ts calls them with success.
      const needsDb = r.path.startsWith('/api/users') && r.method !== 'GET';
      if (r.path !== '/api/events' && !needsDb) expect(statuses, `${r.method} ${r.path} was called with success`).toContain(r.status);
      for (const s of statuses) expect(s in op!.responses || (s >= 400 && s < 500 && '4XX' in op!.responses), `${r.method} ${r.path} ${s} documented`).toBe(true);
    }
  });
});

/** The SHA-256 fingerprint of the certificate the admin listener presents to a new connection. */
function adminFingerprint(): Promise<string> {
  const url = new URL(srv.base);
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false, servername: 'localhost' }, () => {
      const raw = s.getPeerCertificate(true).raw;
      s.destroy();
      resolve(new X509Certificate(raw).fingerprint256);
    });
    s.setTimeout(10_000, () => s.destroy(new Error('no TLS handshake in 10 s')));
    s.on('error', reject);
  });
}

/** Reads GET /api/events until `done(text so far)`; resolves with the status; rejects after 20 s. */
function readEvents(cookie: string, done: (text: string) => boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/api/events', srv.base), { headers: { cookie }, rejectUnauthorized: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        if (done(text)) {
          clearTimeout(timer);
          req.destroy();
          resolve(res.statusCode ?? 0);
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no matching event in 20 s'));
    }, 20_000);
    req.on('error', () => undefined);
    req.end();
  });
}
