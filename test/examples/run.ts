/**
 * Runs an example as a program (`node --import tsx examples/NAME.ts`, from the repository root, where
 * tsconfig.json maps 'ftpsd' to the source), on a free loopback port, and reads what it prints.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface RunningExample {
  readonly port: number;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Resolves with the first stdout line (past or future) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, and the exit code (the examples close the server and exit 0). */
  stop(): Promise<number | null>;
}

export async function runExample(name: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<RunningExample> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', `examples/${name}`, ...args], {
    cwd: REPO,
    env: { ...process.env, FTPSD_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  let buffer = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        const m = line.match(w.pattern);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const waitFor = (pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> => {
    for (const line of lines) {
      const m = line.match(pattern);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} from ${name}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`)), timeoutMs);
      const waiter = { pattern, resolve: (m: RegExpMatchArray) => (clearTimeout(timer), resolve(m)) };
      waiters.push(waiter);
      void exited.then(([code]) => {
        if (!waiters.includes(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code}) before printing ${pattern}; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
      });
    });
  };
  const ready = await waitFor(/^ready: ftp:\/\/127\.0\.0\.1:(\d+)/);
  return {
    port: Number(ready[1]),
    lines,
    waitFor,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
  };
}
