/**
 * Helpers for the interoperability tests: running programs as child processes with a timeout and
 * their output collected, sha256 of files, random test files, temp directories, whether `::1` can be
 * used on this machine, and a server and a local file per describe block. The clients themselves
 * (curl, lftp, basic-ftp, Python ftplib) are in clients.ts.
 */
import { spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { serverForBlock } from '../helpers/block-server.js';
import type { TestServer, TestServerOptions } from '../helpers/server.js';

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

/** Whether a client suite's IPv6 cases run here; when they cannot, says so on the console. */
export async function ipv6Cases(): Promise<boolean> {
  const available = await ipv6Available();
  if (!available) console.warn('IPv6 tests skipped: cannot listen on ::1 on this machine');
  return available;
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

/** One server for the enclosing describe block (started before its tests, closed after); a getter. */
export function withServer(options: TestServerOptions): () => TestServer {
  const t = serverForBlock(options);
  return () => t;
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
