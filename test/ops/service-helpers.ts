/**
 * Helpers for the service tests (PROXY protocol, reload, NAT, running as a user): free ports (and runs of free ports) picked at runtime on loopback, HAProxy
 * started from a generated config in a temp dir, and a raw client that speaks through a PROXY header.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '../helpers/poll.js';
import { RawClient } from '../helpers/raw-client.js';

function tryListen(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ port, host, exclusive: true }, () => resolve(s));
  });
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** A port free on `host` right now (the system's pick). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = (await tryListen(0, host))!;
  const { port } = s.address() as { port: number };
  await close(s);
  return port;
}

/** `count` consecutive ports free on `host` right now, from a random start in [min, max]. */
export async function freePortRange(count: number, min = 20_000, max = 32_000, host = '127.0.0.1'): Promise<{ min: number; max: number }> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const start = min + Math.floor(Math.random() * (max - min - count));
    const held: Server[] = [];
    for (let p = start; p < start + count; p++) {
      const s = await tryListen(p, host);
      if (!s) break;
      held.push(s);
    }
    await Promise.all(held.map(close));
    if (held.length === count) return { min: start, max: start + count - 1 };
  }
  throw new Error(`no ${count} consecutive free ports`);
}

/** A random port below 1024 that is free on `host` right now (needs root to bind). */
export async function freeLowPort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 600 + Math.floor(Math.random() * 420);
    const s = await tryListen(port, host);
    if (s) {
      await close(s);
      return port;
    }
  }
  throw new Error('no free port below 1024');
}

/** The path of the haproxy binary, or undefined (with the reason) when it is not installed. */
export function haproxyPath(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null'], { encoding: 'utf8' });
  const path = r.stdout.trim().split('\n')[0];
  return path ? path : undefined;
}

export interface HaproxyFrontend {
  name: string;
  /** The ftpsd port to forward to (on 127.0.0.1). */
  target: number;
  /** `send-proxy` (v1) or `send-proxy-v2`. */
  send: 'send-proxy' | 'send-proxy-v2';
}

export interface Haproxy {
  /** The frontend ports (on 127.0.0.1), by name. */
  ports: Record<string, number>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts haproxy in the foreground (`mode tcp`) with a frontend on a free loopback port for each entry. */
export async function startHaproxy(binary: string, frontends: HaproxyFrontend[]): Promise<Haproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ftpsd-haproxy-'));
  const ports: Record<string, number> = {};
  for (const f of frontends) ports[f.name] = await freePort();
  const config = [
    'global',
    '  maxconn 200',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 120s',
    '  timeout server 120s',
    ...frontends.flatMap((f) => [
      `frontend fe_${f.name}`,
      `  bind 127.0.0.1:${ports[f.name]}`,
      `  default_backend be_${f.name}`,
      `backend be_${f.name}`,
      `  server ftpsd 127.0.0.1:${f.target} ${f.send}`,
    ]),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, config);
  const check = spawnSync(binary, ['-c', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused its config:\n${check.stdout}${check.stderr}\n${config}`);
  let output = '';
  const child: ChildProcess = spawn(binary, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = once(child, 'exit');
  // Ready when every frontend accepts connections.
  await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
      const ok = await Promise.all(Object.values(ports).map((p) => canConnect(p)));
      return ok.every(Boolean);
    },
    'haproxy to listen',
  );
  return {
    ports,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A raw client connected from `localAddress`, which writes `header` (a PROXY header, as a proxy would)
 * first, and then behaves like RawClient (waits for the greeting unless `greeting: false`).
 */
export async function viaHeader(
  port: number,
  header: Buffer,
  opts: { localAddress?: string; greeting?: boolean; implicit?: boolean; after?: Buffer } = {},
): Promise<RawClient> {
  return RawClient.connect(port, '127.0.0.1', {
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    ...(opts.greeting === false ? { greeting: false } : {}),
    ...(opts.implicit ? { implicit: true } : {}),
    before: (s: Socket) => s.write(opts.after ? Buffer.concat([header, opts.after]) : header),
  });
}
