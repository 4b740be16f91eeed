/**
 * Servers under measurement: ftpsd started from dist (built first when the sources are newer), or an
 * anchor started with the anchor kit's `servers/<name>/start|stop` scripts, or any running server given
 * by address. Every server is reached on loopback.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { log } from './stats.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH_DIR = join(REPO, 'bench');
export const MAIN_JS = join(REPO, 'dist', 'cli', 'main.js');

/** A server the workloads can talk to. `pids` are the roots of its process tree ([] if unknown). */
export interface Target {
  name: string;
  host: string;
  port: number;
  user: string;
  pass: string;
  /** Local path of the user's FTP root (fixtures live in `bench/` below it). */
  root: string;
  pids: number[];
  stop(): Promise<void>;
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(path)) m = Math.max(m, newestMtime(join(path, e)));
  return m;
}

/** Runs `npm run build` when dist/ is missing or older than src/ (or package.json, tsconfig.build.json). */
export function ensureBuilt(): void {
  const built = existsSync(MAIN_JS) ? statSync(MAIN_JS).mtimeMs : 0;
  const sources = Math.max(newestMtime(join(REPO, 'src')), newestMtime(join(REPO, 'package.json')), newestMtime(join(REPO, 'tsconfig.build.json')));
  if (built >= sources) return;
  log('dist/ is older than src/: npm run build');
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error('npm run build failed (use --no-build to measure the existing dist/)');
}

/** A self-signed RSA-2048 certificate (what the anchors use), generated once into `dir`. */
export async function rsaCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (existsSync(cert) && existsSync(key)) return { cert, key };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const crt = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: 'CN=localhost, O=ftpsd bench',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3650 * 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])],
    },
    webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0],
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  writeFileSync(key, x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'), { mode: 0o600 });
  writeFileSync(cert, crt.toString('pem'));
  log(`generated an RSA-2048 certificate in ${dir}`);
  return { cert, key };
}

export interface FtpsdOptions {
  root: string;
  cert: string;
  key: string;
  user: string;
  pass: string;
  /** `MIN-MAX` */
  pasvPorts: string;
  /** Working directory (the state directory). */
  cwd: string;
  /** Log in with a config-file user holding this argon2id hash instead of `--user` (login cost figures). */
  argon2Hash?: string;
  logLevel?: string;
  /** Extra node flags, such as --cpu-prof. */
  nodeArgs?: string[];
  /** ftpsd's entry point (default: this repository's dist/cli/main.js), e.g. another build for an A/B run. */
  main?: string;
  /** Worker processes (FTPSD_WORKERS: a number or auto); default: BENCH_WORKERS, else 1. */
  workers?: string;
}

/**
 * Session limits lifted for the bench: the anchors run without any (vsftpd max_clients=0, max_per_ip=0),
 * and the idle-memory workload holds BENCH_IDLE_SESSIONS logged-in sessions of one user from one address.
 */
const NO_SESSION_LIMITS = 'limits:\n  maxSessions: 1000000\n  maxSessionsPerAddress: 1000000\n  maxSessionsPerUser: 1000000\n';

/**
 * Starts `node dist/cli/main.js` on 127.0.0.1 port 0 and reads the port from its banner. A config file
 * in the state directory lifts the session limits (and holds the argon2id user when asked); a build
 * whose config has no such limits (an older one, for A/B runs) is started without them.
 */
export async function startFtpsd(o: FtpsdOptions): Promise<Target> {
  mkdirSync(o.cwd, { recursive: true });
  const configFile = join(o.cwd, o.argon2Hash ? 'ftpsd-bench-argon2.yaml' : 'ftpsd-bench.yaml');
  const users = o.argon2Hash ? `users:\n  - name: ${o.user}\n    password: "${o.argon2Hash}"\n` : '';
  writeFileSync(configFile, `# written by ftpsd's bench/\n${NO_SESSION_LIMITS}${users}`);
  try {
    return await spawnFtpsd(o, configFile);
  } catch (err) {
    if (!/limits\.maxSessions/.test((err as Error).message)) throw err;
    log('this ftpsd has no session limits in its config: started without them');
    writeFileSync(configFile, `# written by ftpsd's bench/\n${users}`);
    return spawnFtpsd(o, configFile);
  }
}

async function spawnFtpsd(o: FtpsdOptions, configFile: string): Promise<Target> {
  const args = [...(o.nodeArgs ?? []), o.main ?? MAIN_JS, 'serve', '--config', configFile, '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', o.root];
  // A --user flag replaces the config file's users.
  if (!o.argon2Hash) args.push('--user', `${o.user}:${o.pass}`);
  args.push('--tls-required', 'off', '--cert', o.cert, '--key', o.key, '--pasv-ports', o.pasvPorts, '--log-level', o.logLevel ?? 'warn');
  // One process by default (figures per process, like the single-process anchors); BENCH_WORKERS
  // (a number or auto) runs ftpsd's cluster mode, whose whole process tree is measured from this pid.
  const env = { ...process.env, FTPSD_WORKERS: o.workers ?? process.env.BENCH_WORKERS ?? '1' };
  const child = spawn(process.execPath, args, { cwd: o.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    let err = '';
    const timer = setTimeout(() => fail(new Error('ftpsd did not print its banner within 20 s')), 20_000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n${text}${err}`));
    };
    const onOut = (d: Buffer) => {
      text += d.toString();
      const m = /listening: explicit FTPS on ([^\s"]+):(\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        child.stdout!.off('data', onOut);
        child.off('exit', onExit);
        resolve(Number(m[2]));
      }
    };
    const onExit = (code: number | null) => fail(new Error(`ftpsd exited with code ${code}`));
    child.stdout!.on('data', onOut);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', onExit);
  });
  // Keep the pipes drained; warnings (log level warn) go to our stderr.
  const forward = (d: Buffer) => process.stderr.write(d.toString().replace(/^(?=.)/gm, '[ftpsd] '));
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);
  return {
    name: 'ftpsd',
    host: '127.0.0.1',
    port,
    user: o.user,
    pass: o.pass,
    root: o.root,
    pids: [child.pid!],
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The anchor kit's names. */
export const ANCHORS = ['vsftpd', 'proftpd', 'pure-ftpd', 'pyftpdlib', 'ftp-srv'] as const;

/** Starts an anchor with `<kit>/servers/<name>/start` (which prints `FTP_PORT=.. SERVER_PID=..`). */
export function startAnchor(kit: string, name: string): Target {
  const script = join(kit, 'servers', name, 'start');
  if (!existsSync(script)) throw new Error(`no anchor ${name} in ${kit} (${script} missing)`);
  const r = spawnSync(script, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const env: Record<string, string> = {};
  for (const kv of line.split(/\s+/)) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (!env.FTP_PORT || !env.SERVER_PID) throw new Error(`${script}: unexpected output ${line}`);
  return {
    name,
    host: env.FTP_HOST ?? '127.0.0.1',
    port: Number(env.FTP_PORT),
    user: env.FTP_USER ?? 'ftpbench',
    pass: env.FTP_PASS ?? 'benchpass',
    root: env.FTP_ROOT ?? '/tmp/bench/home',
    pids: [Number(env.SERVER_PID)],
    stop: async () => {
      spawnSync(join(kit, 'servers', name, 'stop'), { stdio: ['ignore', 2, 2] });
    },
  };
}

/** The kit's scratch root (where its anchors serve from): `$SCRATCH/home`, default /tmp/bench/home. */
export function kitRoot(): string {
  return join(process.env.SCRATCH ?? '/tmp/bench', 'home');
}

/** The kit's shared RSA-2048 certificate, when the kit has been set up. */
export function kitCertificate(): { cert: string; key: string } | undefined {
  const dir = join(process.env.SCRATCH ?? '/tmp/bench', 'tls');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  return existsSync(cert) && existsSync(key) ? { cert, key } : undefined;
}
