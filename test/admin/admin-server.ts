/**
 * Helpers for the admin console tests: `ftpsd serve` (dist/) with a config file that has an FTP user and
 * an admin account and `adminListen` on loopback port 0, and an HTTPS client for its API (certificate
 * not verified: it is the server's generated one) with a time limit on every request.
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { mkdir } from 'node:fs/promises';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { hashPassword } from '../../src/auth/password.js';
import { configFile, Served } from '../cli/cli.js';

export const ADMIN = { name: 'admin', password: 'admin-Secret-1' };
export const FTP_USER = { name: 'alice', password: 'pw-Alice-1' };

export interface AdminServer {
  served: Served;
  base: string;
  ftpPort: number;
  dir: string;
  /** The config file (its last lines are the admin.users list). */
  file: string;
}

/** `env`: more environment (FTPSD_WORKERS: '2' for a cluster; one process by default). */
export async function startAdminServer(extra = '', env: Record<string, string> = {}): Promise<AdminServer> {
  const [adminHash, userHash] = await Promise.all([hashPassword(ADMIN.password), hashPassword(FTP_USER.password)]);
  const { dir, file } = await configFile(
    [
      'listen: 127.0.0.1:0',
      'implicitListen: []',
      'root: ../root',
      'stateDir: ../state',
      'users:',
      `  - {name: ${FTP_USER.name}, password: "${userHash}"}`,
      'adminListen: 127.0.0.1:0',
      'admin:',
      '  users:',
      `    - {name: ${ADMIN.name}, password: "${adminHash}"}`,
      extra,
      '',
    ].join('\n'),
  );
  await chmod(file, 0o600);
  await mkdir(join(dir, 'root'));
  const served = await Served.start(['--config', file, '--log-level', 'info'], { env });
  const base = /^admin:\s+(https?:\/\/127\.0\.0\.1:\d+)\/$/m.exec(served.stdout)?.[1];
  if (!base) throw new Error(`no admin line in the banner:\n${served.stdout}`);
  return { served, base, ftpPort: served.port, dir, file };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): any;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** JSON-encoded unless a string. */
  body?: unknown;
  cookie?: string;
  token?: string;
}

/** One request; rejects after 10 s. */
export function call(base: string, method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
  const url = new URL(path, base);
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  if (options.cookie) headers.cookie = options.cookie;
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, rejectUnauthorized: false, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Logs in; returns the cookie (`ftpsd_admin=...`). */
export async function login(base: string): Promise<string> {
  const r = await call(base, 'POST', '/api/login', { body: ADMIN });
  if (r.status !== 200) throw new Error(`login: ${r.status} ${r.body}`);
  return String(r.headers['set-cookie']).split(';')[0]!;
}
