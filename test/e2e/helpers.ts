/**
 * Helpers for the interoperability tests: running real FTP clients (curl, lftp, Python ftplib) as child
 * processes with a timeout and their output collected, sha256 of files, random test files, temp
 * directories, and whether `::1` can be used on this machine.
 */
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { afterAll, beforeAll, expect } from 'vitest';
import { PASS, USER, startServer, type TestServer, type TestServerOptions } from '../helpers/server.js';

export const MiB = 1024 * 1024;

/** The server configurations the suites run against. */
export type Mode = 'plain' | 'explicit' | 'implicit';

export interface RunOptions {
  /** Kill the process (SIGKILL) after this long; default 120 s. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. */
  input?: string;
}

export interface RunResult {
  /** The command line, for messages. */
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

/** Output kept per stream; clients here never print more unless something is badly wrong. */
const MAX_OUTPUT = 1024 * 1024;

/** Runs a program to its end (or the timeout) and collects its output. Rejects only if it cannot start. */
export function run(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      if (stdout.length < MAX_OUTPUT) stdout += s;
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < MAX_OUTPUT) stderr += s;
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        command: [cmd, ...args].join(' '),
        code,
        signal,
        stdout,
        stderr,
        ms: performance.now() - started,
        timedOut,
      });
    });
  });
}

/** A failure message with everything needed to see what the client did. */
export function describeRun(r: RunResult): string {
  const status = r.timedOut ? `timed out after ${Math.round(r.ms)} ms` : `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}`;
  const tail = (s: string) => (s.length > 4000 ? '...' + s.slice(-4000) : s);
  return `${r.command}\n-> ${status}\n--- stdout ---\n${tail(r.stdout)}\n--- stderr ---\n${tail(r.stderr)}`;
}

/** Asserts exit code 0 (with the client's output in the failure message) and returns the result. */
export function expectSuccess(r: RunResult): RunResult {
  expect(r.timedOut, describeRun(r)).toBe(false);
  expect(r.code, describeRun(r)).toBe(0);
  return r;
}

/** Asserts that the client failed (non-zero exit, not a timeout of ours) and returns the result. */
export function expectFailure(r: RunResult): RunResult {
  expect(r.timedOut, describeRun(r)).toBe(false);
  expect(r.code, describeRun(r)).not.toBe(0);
  return r;
}

// --- files ---------------------------------------------------------------------------------------

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes `size` random bytes to `path` in 1 MiB chunks; returns the sha256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    const chunk = Buffer.allocUnsafe(Math.min(MiB, size));
    for (let left = size; left > 0; ) {
      const n = Math.min(chunk.length, left);
      randomFillSync(chunk, 0, n);
      const part = chunk.subarray(0, n);
      hash.update(part);
      await file.write(part);
      left -= n;
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}

export interface TempDir {
  path: string;
  remove(): Promise<void>;
}

export async function tempDir(prefix = 'ftpsd-e2e-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

// --- network -------------------------------------------------------------------------------------

let v6: Promise<boolean> | undefined;

/** Whether a socket can listen on `::1` here (IPv6 loopback configured). */
export function ipv6Available(): Promise<boolean> {
  v6 ??= new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
  });
  return v6;
}

/** `host` as it goes in a URL: `[::1]` for IPv6. */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** The port a client should use for `mode` (the implicit FTPS listener for implicit). */
export function portFor(t: TestServer, mode: Mode): number {
  if (mode !== 'implicit') return t.port;
  if (t.implicitPort === undefined) throw new Error('server was started without an implicit listener');
  return t.implicitPort;
}

/** Prints a transfer rate (informational; tests never assert on time). */
export function reportRate(label: string, bytes: number, ms: number): void {
  const mbs = bytes / 1e6 / (ms / 1000);
  console.log(`[rate] ${label}: ${(bytes / MiB).toFixed(0)} MiB in ${(ms / 1000).toFixed(2)} s = ${mbs.toFixed(0)} MB/s`);
}

// --- curl ----------------------------------------------------------------------------------------

/** curl with no config file (`-q` must come first), quiet but showing errors. */
export function curl(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  return run('curl', ['-q', '--silent', '--show-error', '--max-time', String(Math.ceil(timeoutMs / 1000) - 5), ...args], {
    ...options,
    timeoutMs,
  });
}

/** The curl options and base URL for a mode: `ftp://` (optionally `--ssl-reqd`) or `ftps://`. */
export function curlTarget(t: TestServer, mode: Mode): { args: string[]; url: string } {
  const auth = ['--user', `${USER}:${PASS}`];
  const host = urlHost(t.host);
  if (mode === 'plain') return { args: auth, url: `ftp://${host}:${t.port}` };
  if (mode === 'explicit') return { args: [...auth, '--ssl-reqd', '--insecure'], url: `ftp://${host}:${t.port}` };
  return { args: [...auth, '--insecure'], url: `ftps://${host}:${portFor(t, mode)}` };
}

// --- lftp ----------------------------------------------------------------------------------------

/**
 * Settings every lftp run gets: stop at the first failed command with a non-zero exit, no retry loops
 * (a refused transfer must fail the test, not be retried for minutes), no certificate checks (the test
 * certificate is self-signed).
 */
const LFTP_BASE = [
  'set cmd:fail-exit yes',
  'set cmd:interactive no',
  'set net:max-retries 1',
  'set net:timeout 30',
  'set net:reconnect-interval-base 1',
  'set ssl:verify-certificate no',
  'set xfer:clobber yes',
];

/**
 * Runs an lftp script (`;`-separated commands) after the base settings. HOME is an empty directory of
 * its own and `--norc` is given, so the user's settings, bookmarks and caches play no part.
 */
export async function lftp(script: string, options: RunOptions = {}): Promise<RunResult> {
  const home = await tempDir('ftpsd-lftp-home-');
  try {
    return await run('lftp', ['--norc', '-c', [...LFTP_BASE, script].join('; ')], {
      ...options,
      env: { ...process.env, HOME: home.path, XDG_CONFIG_HOME: home.path, XDG_DATA_HOME: home.path, LFTP_HOME: home.path, ...options.env },
    });
  } finally {
    await home.remove();
  }
}

/** The lftp settings and `open` command for a mode. */
export function lftpOpen(t: TestServer, mode: Mode, extra: string[] = []): string {
  const host = urlHost(t.host);
  const user = `-u ${USER},${PASS}`;
  const tls =
    mode === 'plain'
      ? ['set ftp:ssl-allow no']
      : ['set ftp:ssl-force yes', 'set ftp:ssl-protect-data yes', 'set ftps:initial-prot P'];
  const url = mode === 'implicit' ? `ftps://${host}:${portFor(t, mode)}` : `ftp://${host}:${t.port}`;
  return [...tls, ...extra, `open ${user} ${url}`].join('; ');
}

/** A path quoted for an lftp command line. */
export function lftpQuote(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

// --- basic-ftp -----------------------------------------------------------------------------------

/** A logged-in basic-ftp client for a mode (explicit: AUTH TLS; implicit: TLS from the first byte). */
export async function basicFtp(t: TestServer, mode: Mode): Promise<Client> {
  const client = new Client(30_000);
  try {
    await client.access({
      host: t.host,
      port: portFor(t, mode),
      user: USER,
      password: PASS,
      secure: mode === 'plain' ? false : mode === 'implicit' ? 'implicit' : true,
      secureOptions: { rejectUnauthorized: false },
    });
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

// --- Python ftplib -------------------------------------------------------------------------------

/**
 * Python prelude: the test config (argv[1], JSON), a TLS context without certificate checks, and the
 * FTP_TLS variants clients need in practice:
 * - `ReuseFTP_TLS`: data connections resume the control connection's TLS session. Stock `FTP_TLS` opens
 *   every data connection with a fresh session, which servers that bind data connections to their
 *   control connection (vsftpd, ProFTPD, FileZilla Server, ftpsd) refuse. Keeps the session across CCC.
 * - `ImplicitFTP_TLS`: TLS from the first byte; `login()` sees a TLS socket and sends no AUTH.
 */
const PY_PRELUDE = String.raw`
import ftplib, hashlib, io, json, os, socket, ssl, sys
cfg = json.loads(sys.argv[1])

def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cfg.get('tlsMax') == '1.2':
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return ctx

class ReuseFTP_TLS(ftplib.FTP_TLS):
    control_session = None
    def ccc(self):
        self.control_session = self.sock.session
        return super().ccc()
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            session = self.control_session or self.sock.session
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size

class ImplicitFTP_TLS(ReuseFTP_TLS):
    def connect(self, host='', port=0, timeout=-999, source_address=None):
        if host: self.host = host
        if port: self.port = port
        if timeout != -999: self.timeout = timeout
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        self.file = self.sock.makefile('r', encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

def open_ftp(mode=None, pasv=True, prot='P'):
    mode = mode or cfg['mode']
    if mode == 'plain':
        f = ftplib.FTP()
    elif mode == 'implicit':
        f = ImplicitFTP_TLS(context=tls_context())
    elif mode == 'stock':
        f = ftplib.FTP_TLS(context=tls_context())
    else:
        f = ReuseFTP_TLS(context=tls_context())
    if cfg.get('debug'):
        f.set_debuglevel(2)
    f.connect(cfg['host'], cfg['port'], timeout=60)
    f.login(cfg['user'], cfg['password'])
    if mode != 'plain' and prot == 'P':
        f.prot_p()
    elif mode != 'plain':
        # prot_c() sends PROT C alone; RFC 4217 wants PBSZ first (the server answers 503 without it)
        f.voidcmd('PBSZ 0')
        f.prot_c()
    f.set_pasv(pasv)
    return f

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as fh:
        for block in iter(lambda: fh.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()

def out(obj):
    print(json.dumps(obj))
`;

export interface PythonConfig {
  host: string;
  port: number;
  /** `plain`, `explicit` (session-reusing FTP_TLS), `implicit`, or `stock` (FTP_TLS as shipped). */
  mode: Mode | 'stock';
  user?: string;
  password?: string;
  tlsMax?: '1.2';
  debug?: boolean;
  [key: string]: unknown;
}

/** Runs a Python script after the prelude; `cfg` in the script is `config` (user and password filled in). */
export function python(script: string, config: PythonConfig, options: RunOptions = {}): Promise<RunResult> {
  const cfg = { user: USER, password: PASS, ...config };
  return run('python3', ['-c', PY_PRELUDE + script, JSON.stringify(cfg)], {
    ...options,
    env: { ...process.env, PYTHONIOENCODING: 'utf-8', PYTHONDONTWRITEBYTECODE: '1', ...options.env },
  });
}

/** The Python config for a test server and mode. */
export function pythonConfig(t: TestServer, mode: Mode | 'stock', extra: Partial<PythonConfig> = {}): PythonConfig {
  return { host: t.host, port: portFor(t, mode === 'stock' ? 'explicit' : mode), mode, ...extra };
}

/** The last line of a Python run's stdout, parsed as JSON (scripts end with `out(...)`). */
export function pythonOutput<T = unknown>(r: RunResult): T {
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/** One server for the enclosing describe block (started before its tests, closed after); a getter. */
export function withServer(options: TestServerOptions): () => TestServer {
  let t: TestServer | undefined;
  beforeAll(async () => {
    t = await startServer(options);
  });
  afterAll(() => t?.close());
  return () => t!;
}

export interface LocalFile {
  /** A temp directory for downloads. */
  readonly work: TempDir;
  /** A random file of the requested size in it. */
  readonly path: string;
  readonly hash: string;
}

/** A random local file (and a temp dir) made once for the test file; its fields are set before the tests run. */
export function withLocalFile(size: number): LocalFile {
  const f = {} as { work: TempDir; path: string; hash: string };
  beforeAll(async () => {
    f.work = await tempDir();
    f.path = join(f.work.path, 'local.bin');
    f.hash = await writeRandomFile(f.path, size);
  });
  afterAll(() => f.work?.remove());
  return f;
}
