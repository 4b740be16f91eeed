/**
 * The real FTP clients the interoperability tests drive, as child processes (curl, lftp, Python ftplib)
 * or in process (basic-ftp), each with its settings for a server mode (plain, explicit, implicit FTPS).
 */
import { Client } from 'basic-ftp';
import { PASS, USER, type TestServer } from '../helpers/server.js';
import { portFor, run, tempDir, urlHost, type Mode, type RunOptions, type RunResult } from './helpers.js';

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
export const PY_PRELUDE = String.raw`
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
