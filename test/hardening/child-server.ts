/**
 * ftpsd as a child process (the real CLI, `src/cli/main.ts` through tsx, so no build is needed), with
 * a preload that makes any uncaught exception or unhandled rejection loud: it prints `CRASH ...` on
 * stderr and exits with code 70. The server itself installs no such handler; this is test harness only.
 */
import { bannerText } from '../helpers/banner-text.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir as sharedTempDir } from '../helpers/temp-dirs.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const LOUD = pathToFileURL(join(REPO, 'test/hardening/loud.mjs')).href;
const MAIN = join(REPO, 'src/cli/main.ts');

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ChildServer {
  /** stdout as written. */
  rawStdout = '';
  stderr = '';
  exit: ChildExit | undefined;
  readonly exited: Promise<ChildExit>;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.rawStdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        live.delete(this);
        r(this.exit);
      }),
    );
  }

  /** Starts `ftpsd serve ARGS` and resolves once the banner is out. */
  static async start(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<ChildServer> {
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', '--import', LOUD, MAIN, 'serve', ...args], {
      cwd: REPO,
      // One process (the tests look at its pid, memory and in-process state), unless `env` says otherwise.
      env: { ...cleanEnv(), FTPSD_WORKERS: '1', ...env },
      stdio: 'pipe',
    });
    const s = new ChildServer(child);
    live.add(s);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner in 30 s:\n${s.stdout}\n${s.stderr}`)), 30_000);
      const check = () => {
        if (/^try: .*$/m.test(s.stdout)) {
          clearTimeout(timer);
          child.stdout!.off('data', check);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      void s.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`ftpsd exited (${e.code ?? e.signal}) before its banner:\n${s.stdout}\n${s.stderr}`));
      });
    });
    return s;
  }

  /** stdout with the banner as text lines (see bannerText). */
  get stdout(): string {
    return bannerText(this.rawStdout);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The `listening: explicit|implicit FTPS on HOST:PORT` ports. */
  port(kind: 'explicit' | 'implicit' = 'explicit'): number {
    const m = new RegExp(`^listening: ${kind} FTPS on .+:(\\d+)$`, 'm').exec(this.stdout);
    if (!m) throw new Error(`no ${kind} listener in the banner:\n${this.stdout}`);
    return Number(m[1]);
  }

  get fingerprint(): string {
    return /^fingerprint:\s+SHA-256 (\S+)$/m.exec(this.stdout)?.[1] ?? '';
  }

  /** The JSON log lines so far. */
  logs(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a line still being written
      }
    }
    return out;
  }

  /** Waits for a log line matching `match` (up to `timeoutMs`). */
  async waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.logs().find(match);
      if (found) return found;
      if (!this.alive) throw new Error(`ftpsd exited while waiting for a log line:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no such log line in ${timeoutMs} ms:\n${this.stdout.slice(-4000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A crash report from the loud preload, if any. */
  get crash(): string | undefined {
    return /^CRASH[^\n]*(\n.*)*/m.exec(this.stderr)?.[0];
  }

  /** Open file descriptors of the process (Linux /proc), or undefined elsewhere. */
  fdCount(): number | undefined {
    try {
      return readdirSync(`/proc/${this.pid}/fd`).length;
    } catch {
      return undefined;
    }
  }

  /** Resident set size in bytes (Linux /proc), or undefined elsewhere. */
  rss(): number | undefined {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<ChildExit> {
    if (this.alive) this.child.kill(sig);
    return this.exited;
  }
}

const live = new Set<ChildServer>();

/** Kills whatever a failed test left running. */
export function killChildren(): void {
  for (const s of live) s.child.kill('SIGKILL');
}

/** No FTPSD_* from the outside. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FTPSD_') && !k.startsWith('VITEST') && k !== 'NODE_OPTIONS') env[k] = v;
  return env;
}

export { removeTempDirs } from '../helpers/temp-dirs.js';

/** A fresh temp directory, removed by `removeTempDirs()`. */
export const tempDir = (prefix = 'ftpsd-hard-'): Promise<string> => sharedTempDir(prefix);
