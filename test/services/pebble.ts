/**
 * Pebble (Debian's `pebble` package), a real RFC 8555 CA for the ACME tests, with `pebble-challtestsrv`
 * as its DNS so names such as `ftp.example.test` resolve to 127.0.0.1. Challenges are really validated
 * (no PEBBLE_VA_ALWAYS_VALID): Pebble connects to `httpPort` (http-01) and `tlsPort` (tls-alpn-01) on
 * 127.0.0.1, where ftpsd's responders must listen. Everything runs on free loopback ports in a temp dir;
 * `stop()` ends both processes and removes it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../helpers/poll.js';
import { freePort } from '../ops/service-helpers.js';

export interface PebbleOptions {
  /** Where Pebble validates http-01 (ftpsd's --acme-http-listen port on 127.0.0.1). */
  httpPort: number;
  /** Where Pebble validates tls-alpn-01 (ftpsd's tlsAlpnListen port on 127.0.0.1). */
  tlsPort: number;
  /** Lifetime of the certificates Pebble issues, in seconds (Pebble's default: 5 years). */
  validitySeconds?: number;
}

export interface Pebble {
  /** The ACME directory URL. */
  directory: string;
  /** PEM file of the CA that signed Pebble's own HTTPS listeners (ftpsd's `caBundle`). */
  caBundle: string;
  /** Pebble's root for the certificates it issues (management `/roots/0`), PEM. */
  root(): Promise<string>;
  /** Sets the address challtestsrv answers for every name ('' : no A record, the names stop resolving). */
  setDefaultIPv4(ip: string): Promise<void>;
  /** How many certificates Pebble has issued (from its log). */
  issued(): number;
  /** How many orders were created (from its log). */
  orders(): number;
  output(): string;
  stop(): Promise<void>;
}

/** True when both binaries are installed. */
export function pebbleInstalled(): boolean {
  return ['pebble', 'pebble-challtestsrv'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
}

function startProcess(binary: string, args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string } {
  let out = '';
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const add = (d: string) => {
    out += d;
    if (out.length > 2_000_000) out = out.slice(-1_000_000);
  };
  child.stdout!.setEncoding('utf8').on('data', add);
  child.stderr!.setEncoding('utf8').on('data', add);
  child.on('error', (err) => add(`spawn error: ${err.message}\n`));
  return { child, output: () => out };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.setTimeout(1000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** GET over HTTPS trusting `ca`, with a timeout. */
export function httpsGet(url: string, ca: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
        if (body.length > 1_000_000) req.destroy(new Error('response too large'));
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: HTTP ${res.statusCode}: ${body}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** POST a JSON body over plain HTTP (challtestsrv's management API), with a timeout. */
async function postJson(url: string, body: unknown): Promise<void> {
  const r = await fetch(url, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'ftpsd-pebble-'));
  // Pebble's own HTTPS certificate: a small CA and a leaf for 127.0.0.1/localhost, made with openssl.
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=ftpsd test CA for pebble');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'ext.cnf');

  const [acmePort, mgmtPort, dnsPort, challMgmtPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort: options.tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(options.validitySeconds !== undefined ? { certificateValidityPeriod: options.validitySeconds } : {}),
    },
  };
  await writeFile(join(dir, 'pebble.json'), JSON.stringify(config, null, 2));

  // The DNS: every A query answers 127.0.0.1, no AAAA; its challenge listeners are off.
  const dns = startProcess('pebble-challtestsrv', [
    '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-management', `127.0.0.1:${challMgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
  ], process.env);
  const env: NodeJS.ProcessEnv = { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' };
  delete env.PEBBLE_VA_ALWAYS_VALID;
  const ca = startProcess('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], env);
  const output = () => `--- pebble\n${ca.output()}\n--- challtestsrv\n${dns.output()}`;
  const stop = async () => {
    await Promise.all([stopProcess(ca.child), stopProcess(dns.child)]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await until(async () => {
      if (ca.child.exitCode !== null || dns.child.exitCode !== null) throw new Error(`pebble exited:\n${output()}`);
      return (await canConnect(acmePort)) && (await canConnect(mgmtPort)) && (await canConnect(challMgmtPort));
    }, 'pebble to listen', 20_000, 50);
  } catch (err) {
    await stop();
    throw err;
  }
  const caPem = await import('node:fs/promises').then((fs) => fs.readFile(join(dir, 'ca.pem'), 'utf8'));
  const count = (re: RegExp) => (ca.output().match(re) ?? []).length;
  return {
    directory: `https://127.0.0.1:${acmePort}/dir`,
    caBundle: join(dir, 'ca.pem'),
    root: () => httpsGet(`https://127.0.0.1:${mgmtPort}/roots/0`, caPem),
    setDefaultIPv4: (ip) => postJson(`http://127.0.0.1:${challMgmtPort}/set-default-ipv4`, { ip }),
    issued: () => count(/Issued certificate serial/g),
    orders: () => count(/POST \/order-plz/g),
    output,
    stop,
  };
}
