/**
 * The admin console in cluster mode (`ftpsd serve` with 2 workers; dist/, run `npm run build` first):
 * one listener in the primary lists the sessions of both workers (ids unique, each with its worker),
 * ends a session on either worker (its client reads 421), streams events from both, bans and lifts bans
 * on every worker, reloads every worker (and its own admin accounts), reports a worker that does not
 * answer instead of hanging, and follows a reload that names other certificate files.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { assertBuilt, curl, killAll, removeTempDirs } from '../cli/cli.js';
import { until } from '../helpers/poll.js';
import { RawClient } from '../helpers/raw-client.js';
import { ADMIN, call, FTP_USER, login, startAdminServer, type AdminServer } from './admin-server.js';

let srv: AdminServer;
let cookie: string;
const XHR = { 'x-requested-with': 'test' };
const clients: RawClient[] = [];

interface Row {
  id: string;
  worker: number;
  user: string | null;
}

const sessions = async (): Promise<Row[]> => (await call(srv.base, 'GET', '/api/sessions', { cookie })).json() as Row[];

/** Raw control connections (not logged in) until both workers hold a new one; returns one session id per worker with its client. */
async function onEachWorker(): Promise<Map<number, { id: string; client: RawClient }>> {
  const found = new Map<number, { id: string; client: RawClient }>();
  for (let i = 0; i < 20 && found.size < 2; i++) {
    const before = new Set((await sessions()).map((s) => s.id));
    const client = await RawClient.connect(srv.ftpPort);
    clients.push(client);
    let row: Row | undefined;
    await until(async () => (row = (await sessions()).find((s) => !before.has(s.id))) !== undefined, 'the new session in /api/sessions');
    if (!found.has(row!.worker)) found.set(row!.worker, { id: row!.id, client });
  }
  expect([...found.keys()].sort()).toEqual([1, 2]);
  return found;
}

beforeAll(async () => {
  assertBuilt();
  srv = await startAdminServer('', { FTPSD_WORKERS: '2' });
  cookie = await login(srv.base);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.socket.destroy();
  await srv?.served.stop();
  killAll();
  await removeTempDirs();
});

describe('admin console with 2 workers', () => {
  it('prints its URL in the banner and lists both workers in the status', async () => {
    expect(srv.served.stdout).toMatch(/^workers:\s+2 processes/m);
    const status = (await call(srv.base, 'GET', '/api/status', { cookie })).json();
    expect(status.workers).toBe(2);
    expect(status.workerList).toEqual([
      { worker: 1, pid: expect.any(Number), state: 'listening', sessions: expect.any(Number) },
      { worker: 2, pid: expect.any(Number), state: 'listening', sessions: expect.any(Number) },
    ]);
    expect(status.listeners.explicit).toEqual([`127.0.0.1:${srv.ftpPort}`]);
  });

  it('lists the sessions of both workers (ids unique, starting with the worker number), and streams events from both', async () => {
    const events = readEvents(cookie);
    const found = await onEachWorker();
    const list = await sessions();
    expect(new Set(list.map((s) => s.id)).size).toBe(list.length);
    for (const s of list) expect(s.id.startsWith(`${s.worker}.`)).toBe(true);
    for (const [worker, { id }] of found) expect(list.find((s) => s.id === id)?.worker).toBe(worker);
    // Each new session reached the event stream, whichever worker holds it.
    await until(() => [...found.values()].every(({ id }) => events.text().includes(`"id":"${id}"`)), 'sessions of both workers in /api/events');
    events.stop();
  }, 60_000);

  it('ends a session on either worker: its client reads 421', async () => {
    const found = await onEachWorker();
    for (const [worker, { id, client }] of found) {
      const del = await call(srv.base, 'DELETE', `/api/sessions/${encodeURIComponent(id)}`, { cookie, headers: XHR });
      expect(del.status, `worker ${worker}`).toBe(204);
      expect((await client.reply()).text).toBe('421 Disconnected by an administrator.');
    }
    const left = new Set((await sessions()).map((s) => s.id));
    for (const { id } of found.values()) expect(left.has(id)).toBe(false);
    expect((await call(srv.base, 'DELETE', '/api/sessions/2.nosuchid', { cookie, headers: XHR })).status).toBe(404);
    expect(srv.served.stdout).toMatch(/"action":"session disconnected"/);
  }, 60_000);

  it('bans on every worker, and lifts the ban on every worker', async () => {
    const ftpLogin = () => curl(['--ssl-reqd', '-k', '-u', `${FTP_USER.name}:${FTP_USER.password}`, `ftp://127.0.0.1:${srv.ftpPort}/`]);
    const ban = await call(srv.base, 'POST', '/api/bans', { cookie, headers: XHR, body: { address: '127.0.0.1', durationMs: 600_000 } });
    expect(ban.status).toBe(201);
    // Round robin: four logins reach both workers; every one is refused.
    for (let i = 0; i < 4; i++) expect((await ftpLogin()).code, `login ${i} while banned`).not.toBe(0);
    expect((await call(srv.base, 'POST', '/api/login', { body: ADMIN })).status).toBe(403);
    expect((await call(srv.base, 'GET', '/api/bans', { cookie })).json()).toEqual([{ address: '127.0.0.1', until: expect.any(String) }]);
    expect((await call(srv.base, 'DELETE', '/api/bans/127.0.0.1', { cookie, headers: XHR })).status).toBe(204);
    for (let i = 0; i < 4; i++) expect((await ftpLogin()).code, `login ${i} after the lift`).toBe(0);
    expect((await call(srv.base, 'GET', '/api/bans', { cookie })).json()).toEqual([]);
  }, 60_000);

  it('counts failed FTP logins on the workers toward a ban the console shows and streams', async () => {
    const bad = () => curl(['--ssl-reqd', '-k', '-u', `${FTP_USER.name}:wrong`, `ftp://127.0.0.1:${srv.ftpPort}/`]);
    const events = readEvents(cookie);
    for (let i = 0; i < 10; i++) await bad();
    await until(async () => ((await call(srv.base, 'GET', '/api/bans', { cookie })).json() as unknown[]).length === 1, 'the ban in /api/bans');
    // The ban a worker started reached the event stream.
    await until(() => /event: bans\ndata: \[\{"address":"127\.0\.0\.1"/.test(events.text()), 'the ban in /api/events');
    events.stop();
    expect((await call(srv.base, 'POST', '/api/login', { body: ADMIN })).status).toBe(403);
    expect((await call(srv.base, 'DELETE', '/api/bans/127.0.0.1', { cookie, headers: XHR })).status).toBe(204);
    expect((await call(srv.base, 'POST', '/api/login', { body: ADMIN })).status).toBe(200);
  }, 60_000);

  it('reloads every worker and its own admin accounts', async () => {
    const original = await readFile(srv.file, 'utf8');
    const bob = { name: 'bob', password: 'bob-Secret-2' };
    await writeFile(srv.file, `${original.trimEnd()}\n    - {name: bob, password: "${await hashPassword(bob.password)}"}\n`);
    const r = await call(srv.base, 'POST', '/api/reload', { cookie, headers: XHR });
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ ok: true, changed: ['admin'], workers: [{ worker: 1, ok: true }, { worker: 2, ok: true }] });
    expect((await call(srv.base, 'POST', '/api/login', { body: bob })).status).toBe(200);
    await writeFile(srv.file, original);
    expect((await call(srv.base, 'POST', '/api/reload', { cookie, headers: XHR })).json()).toMatchObject({ ok: true });
    expect((await call(srv.base, 'POST', '/api/login', { body: bob })).status).toBe(401);
    expect((await call(srv.base, 'GET', '/api/status', { cookie })).json().lastReload).toMatchObject({ ok: true, reason: 'admin console' });
  }, 60_000);

  it('reads its admin accounts again on SIGHUP to the primary', async () => {
    const original = await readFile(srv.file, 'utf8');
    const carol = { name: 'carol', password: 'carol-Secret-3' };
    await writeFile(srv.file, `${original.trimEnd()}\n    - {name: carol, password: "${await hashPassword(carol.password)}"}\n`);
    expect((await call(srv.base, 'POST', '/api/login', { body: carol })).status).toBe(401);
    srv.served.child.kill('SIGHUP');
    await until(async () => (await call(srv.base, 'POST', '/api/login', { body: carol })).status === 200, 'carol logging in after SIGHUP');
    await writeFile(srv.file, original);
    srv.served.child.kill('SIGHUP');
    await until(async () => (await call(srv.base, 'POST', '/api/login', { body: carol })).status === 401, 'carol refused after the second SIGHUP');
  }, 60_000);

  it('reports a worker that does not answer instead of waiting for it', async () => {
    const found = await onEachWorker();
    const pid = ((await call(srv.base, 'GET', '/api/status', { cookie })).json().workerList as { worker: number; pid: number }[]).find((w) => w.worker === 2)!.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      const started = Date.now();
      const r = await call(srv.base, 'GET', '/api/sessions', { cookie });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(r.status).toBe(200);
      expect(r.headers['ftpsd-unavailable']).toBe('worker 2');
      const ids = (r.json() as Row[]).map((s) => s.id);
      expect(ids).toContain(found.get(1)!.id);
      expect(ids).not.toContain(found.get(2)!.id);
      const del = await call(srv.base, 'DELETE', `/api/sessions/${encodeURIComponent(found.get(2)!.id)}`, { cookie, headers: XHR });
      expect(del.status).toBe(504);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await until(async () => (await call(srv.base, 'GET', '/api/sessions', { cookie })).headers['ftpsd-unavailable'] === undefined, 'worker 2 answering again');
  }, 60_000);

  it('refuses a request for a host name it is not known by (DNS rebinding) and a foreign Origin', async () => {
    const evil = await call(srv.base, 'GET', '/api/sessions', { cookie, headers: { host: 'attacker.example' } });
    expect(evil.status).toBe(421);
    expect(evil.json()).toMatchObject({ status: 421, title: 'Misdirected Request' });
    expect((await call(srv.base, 'GET', '/', { headers: { host: 'attacker.example:443' } })).status).toBe(421);
    expect((await call(srv.base, 'GET', '/api/sessions', { cookie, headers: { host: `localhost:${new URL(srv.base).port}` } })).status).toBe(200);
    const foreign = await call(srv.base, 'POST', '/api/reload', { cookie, headers: { ...XHR, origin: 'https://attacker.example' } });
    expect(foreign.status).toBe(403);
    expect(foreign.json()).toMatchObject({ status: 403, detail: expect.stringMatching(/origin/) });
    expect((await call(srv.base, 'GET', '/healthz', { headers: { host: 'anything.example' } })).status).toBe(200);
  });

  it('answers to the names of admin.hosts after a reload', async () => {
    const original = await readFile(srv.file, 'utf8');
    expect((await call(srv.base, 'GET', '/api/sessions', { cookie, headers: { host: 'ftp-admin.example' } })).status).toBe(421);
    await writeFile(srv.file, original.replace(/^admin:\n/m, 'admin:\n  hosts: [FTP-Admin.example]\n'));
    expect((await call(srv.base, 'POST', '/api/reload', { cookie, headers: XHR })).json()).toMatchObject({ ok: true });
    expect((await call(srv.base, 'GET', '/api/sessions', { cookie, headers: { host: 'ftp-admin.example' } })).status).toBe(200);
    await writeFile(srv.file, original);
    expect((await call(srv.base, 'POST', '/api/reload', { cookie, headers: XHR })).json()).toMatchObject({ ok: true });
  });

  it('follows a reload that names other certificate files: the admin listener presents the new certificate', async () => {
    const before = await adminCertificate();
    const pair = await generateSelfSigned({ names: ['new-pair.example'] });
    await writeFile(join(srv.dir, 'etc', 'new.crt'), pair.cert, { mode: 0o600 });
    await writeFile(join(srv.dir, 'etc', 'new.key'), pair.key, { mode: 0o600 });
    const original = await readFile(srv.file, 'utf8');
    await writeFile(srv.file, `tls: {cert: new.crt, key: new.key}\n${original}`);
    const r = await call(srv.base, 'POST', '/api/reload', { cookie, headers: XHR });
    expect(r.json()).toMatchObject({ ok: true });
    expect(r.json().changed).toContain('tls');
    await until(async () => (await adminCertificate()) === pair.fingerprint256, 'the new certificate on the admin listener');
    expect(before).not.toBe(pair.fingerprint256);
    const status = (await call(srv.base, 'GET', '/api/status', { cookie })).json();
    expect(status.certificate).toMatchObject({ fingerprint256: pair.fingerprint256, names: expect.arrayContaining(['new-pair.example']) });
    // The certificate's names are names the console answers to.
    expect((await call(srv.base, 'GET', '/api/sessions', { cookie, headers: { host: 'new-pair.example' } })).status).toBe(200);
    await writeFile(srv.file, original);
  }, 60_000);
});

/** The SHA-256 fingerprint of the certificate the admin listener presents to a new connection. */
function adminCertificate(): Promise<string> {
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

/** Reads GET /api/events in the background. */
function readEvents(cookie: string): { text(): string; stop(): void } {
  let text = '';
  const req = request(new URL('/api/events', srv.base), { headers: { cookie }, rejectUnauthorized: false }, (res) => {
    res.setEncoding('utf8').on('data', (d: string) => (text += d));
  });
  req.on('error', () => undefined);
  req.end();
  return { text: () => text, stop: () => req.destroy() };
}
