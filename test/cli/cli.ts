/**
 * Helpers for the CLI tests: run `node dist/cli/main.js` as a real process, wait for the start banner
 * and read the real ports from it, run curl against it, and clean up temp dirs and processes.
 * Tests assume `npm run build` ran (npm test does it).
 */
import { bannerText } from '../helpers/banner-text.js';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir as sharedTempDir } from '../helpers/temp-dirs.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const MAIN = join(REPO, 'dist/cli/main.js');

export function assertBuilt(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run "npm run build" first (npm test does)`);
  const built = statSync(MAIN).mtimeMs;
  for (const dir of ['src/cli', 'src/config']) {
    for (const name of readdirSync(join(REPO, dir))) {
      if (statSync(join(REPO, dir, name)).mtimeMs > built) {
        throw new Error(`dist/ is older than ${dir}/${name}: run "npm run build" first (npm test does)`);
      }
    }
  }
}

/** A clean environment: no FTPSD_* from the outside, no proxies for curl. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('FTPSD_') && !/_proxy$/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  input?: string;
  /** Working directory; default: the system temp dir (so nothing lands in the repo). */
  cwd?: string;
  /**
   * `Served.start` runs a single process (FTPSD_WORKERS=1: in-process state, one pid, SIGHUP to the
   * process that serves) unless this is set or `env` names FTPSD_WORKERS; then ftpsd's default applies
   * (one worker per core).
   */
  defaultWorkers?: boolean;
}

/** Runs ftpsd to completion (commands that exit by themselves). */
export function run(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? tmpdir(), env: cleanEnv(options.env), stdio: 'pipe' });
  const result = collect(child);
  child.stdin.end(options.input ?? '');
  return result;
}

function collect(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout: bannerText(stdout), stderr }));
  });
}

export interface Banner {
  explicit: { host: string; port: number }[];
  implicit: { host: string; port: number }[];
  root: string;
  /** The `user:` / `users:` line's value. */
  user: string;
  /** The generated password, when printed. */
  password: string | undefined;
  fingerprint: string;
  certificate: string;
  try: string;
}

export function parseBanner(raw: string): Banner {
  const stdout = bannerText(raw);
  const listeners = (kind: string) =>
    [...stdout.matchAll(new RegExp(`^listening: ${kind} FTPS on (.+):(\\d+)$`, 'gm'))].map((m) => ({
      host: m[1]!.replace(/^\[(.*)\]$/, '$1'),
      port: Number(m[2]),
    }));
  const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? '';
  return {
    explicit: listeners('explicit'),
    implicit: listeners('implicit'),
    root: field('root'),
    user: field('users?'),
    password: /password: (\S+)/.exec(field('user'))?.[1],
    fingerprint: field('fingerprint').replace(/^SHA-256 /, ''),
    certificate: field('certificate'),
    try: field('try'),
  };
}

/** A running `ftpsd serve`. */
export class Served {
  private constructor(
    readonly child: ChildProcess,
    private readonly output: { stdout: string; stderr: string },
    readonly banner: Banner,
    private readonly done: Promise<RunResult>,
  ) {}

  /** stdout with the banner as text lines (see bannerText). */
  get stdout(): string {
    return bannerText(this.output.stdout);
  }

  /** stdout as written. */
  get rawStdout(): string {
    return this.output.stdout;
  }

  get stderr(): string {
    return this.output.stderr;
  }

  get port(): number {
    return this.banner.explicit[0]!.port;
  }

  /** Starts ftpsd and resolves when the banner is out; rejects with the output if it exits first. */
  static async start(args: string[], options: RunOptions = {}): Promise<Served> {
    const workers: Record<string, string> = options.defaultWorkers ? {} : { FTPSD_WORKERS: '1' };
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: options.cwd ?? tmpdir(), env: cleanEnv({ ...workers, ...options.env }), stdio: 'pipe' });
    live.add(child);
    const output = { stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
    const done = new Promise<RunResult>((resolve) =>
      child.once('close', (code, signal) => {
        live.delete(child);
        resolve({ code, signal, stdout: bannerText(output.stdout), stderr: output.stderr });
      }),
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in 20 s:\n${output.stdout}\n${output.stderr}`)), 20_000);
      const check = () => {
        if (/^try: .*$/m.test(bannerText(output.stdout))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', check);
      void done.then((r) => {
        clearTimeout(timer);
        reject(new Error(`ftpsd exited (${r.code ?? r.signal}) before its banner:\n${r.stdout}\n${r.stderr}`));
      });
    });
    return new Served(child, output, parseBanner(output.stdout), done);
  }

  /** Sends a signal and resolves with how the process ended. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<RunResult> {
    this.child.kill(signal);
    return this.done;
  }
}

const live = new Set<ChildProcess>();

/** Kills whatever a failed test left running. */
/** A JSON log line of a served process (cluster fields included). */
export interface LogLine {
  msg: string;
  pid?: number;
  worker?: number;
  workerPid?: number;
  workerPids?: number[];
  sessions?: number;
  user?: string;
  reason?: string;
  [key: string]: unknown;
}

/** The JSON log lines of a served process's stdout (the banner's plain lines left out). */
export function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

export function killAll(): void {
  for (const child of live) child.kill('SIGKILL');
}

export { removeTempDirs } from '../helpers/temp-dirs.js';

/** A fresh temp directory, removed by `removeTempDirs()`. */
export const tempDir = (): Promise<string> => sharedTempDir('ftpsd-cli-');

/** A config file `etc/ftpsd.yaml` with `text` in a fresh temp directory (relative paths in it resolve to `etc/`). */
export async function configFile(text: string): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  await mkdir(join(dir, 'etc'));
  const file = join(dir, 'etc', 'ftpsd.yaml');
  await writeFile(file, text);
  return { dir, file };
}

/** Loopback listeners on port 0, the server's root and state dir in `dir`. */
export function loopbackArgs(dir: string): string[] {
  return ['--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0', '--root', join(dir, 'root'), '--state-dir', join(dir, 'state')];
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** curl with a time limit and no proxy; `code` is curl's exit code (67: login refused). */
export function curl(args: string[]): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', '--noproxy', '*', ...args], { env: cleanEnv() }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Lists `/` over explicit FTPS (AUTH TLS, PROT P), certificate not verified. */
export function listExplicit(port: number, user: string, password: string, path = '/'): Promise<CurlResult> {
  return curl(['--ssl-reqd', '-k', '-u', `${user}:${password}`, `ftp://127.0.0.1:${port}${path}`]);
}
