/**
 * What the crash tests share: a child ftpsd with a small file, a big file and a large directory, short
 * timeouts; ways to cut a connection; logged-in clients; and `crashServer()`, which starts the server for
 * a describe block and checks after each test that it is alive and serving, and at the end that it
 * logged no error and exits 0.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { ChildServer, killChildren, removeTempDirs, tempDir } from './child-server.js';
import { within } from './tls-helpers.js';

export const USER = 'alice';
export const PASS = 'secret';
export const BIG = 24 * 1024 * 1024;

/** A root with a small file, a big file and a directory of many entries; a config with short timeouts. */
export async function prepare(): Promise<{ dir: string; args: string[] }> {
  const dir = await tempDir();
  const root = join(dir, 'root');
  await mkdir(join(root, 'many'), { recursive: true });
  await writeFile(join(root, 'small.txt'), 'small file\n');
  await writeFile(join(root, 'big.bin'), Buffer.alloc(BIG, 0x5a));
  await Promise.all(Array.from({ length: 3000 }, (_, i) => writeFile(join(root, 'many', `entry-with-a-long-name-${i}.txt`), '')));
  await writeFile(
    join(dir, 'ftpsd.yaml'),
    [
      'timeouts:',
      '  handshakeMs: 3000',
      '  dataConnectMs: 3000',
      '  cccMs: 3000',
      '  stalledTransferMs: 5000',
      'limits:',
      '  loginFailureDelayMs: 10',
      '  maxSessionsPerAddress: 1000',
      '  maxSessionsPerUser: 1000',
      '',
    ].join('\n'),
  );
  const args = [
    '--config', join(dir, 'ftpsd.yaml'),
    '--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0',
    '--root', root, '--state-dir', join(dir, 'state'),
    '--user', `${USER}:${PASS}`, '--tls-required', 'off', '--log-level', 'warn',
  ];
  return { dir, args };
}

export type Cut = 'rst' | 'fin';

/** Cuts a connection: RST (reset at once) or FIN (we end our side, then close a moment later). */
export function cut(socket: Socket, how: Cut): void {
  if (how === 'rst') {
    if (!socket.destroyed) socket.resetAndDestroy();
    return;
  }
  socket.end();
  setTimeout(() => socket.destroy(), 200).unref();
}

/** The first bytes of a TLS ClientHello, as Node's client sends it. */
export async function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const sink = new Duplex({
      read() {},
      write(chunk: Buffer, _e, cb) {
        resolve(chunk);
        cb();
      },
    });
    const tls = tlsConnect({ socket: sink, rejectUnauthorized: false });
    tls.on('error', () => {});
    setTimeout(() => tls.destroy(), 100).unref();
  });
}

export async function plain(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(USER, PASS);
  await c.expectCmd('TYPE I', 200);
  return c;
}

export async function secure(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.auth();
  await c.login(USER, PASS);
  await c.expectCmd('PBSZ 0', 200);
  await c.expectCmd('PROT P', 200);
  await c.expectCmd('TYPE I', 200);
  return c;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Reads from `s` until `n` bytes arrived (or it ends). */
export async function readSome(s: Socket | TLSSocket, n: number): Promise<number> {
  let got = 0;
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= n) done();
    };
    const done = () => {
      s.off('data', onData);
      s.pause();
      resolve();
    };
    s.on('data', onData);
    s.once('end', done);
    s.once('close', done);
  });
  return got;
}

export interface CrashServer {
  s: ChildServer;
  port: number;
  implicitPort: number;
}

/** Call at the top of a test file: after its tests, child servers still running are killed and temp dirs removed. */
export function cleanUpChildren(): void {
  afterAll(async () => {
    killChildren();
    await removeTempDirs();
  });
}

/** Call in a describe: the server its tests cut connections to, with the checks described above. */
export function crashServer(): CrashServer {
  const srv = {} as CrashServer;
  beforeAll(async () => {
    const { args } = await prepare();
    srv.s = await ChildServer.start(args);
    srv.port = srv.s.port();
    srv.implicitPort = srv.s.port('implicit');
  });

  /** The process is alive and a fresh client can log in, list and download, plain and over TLS. */
  afterEach(async () => {
    await sleep(50);
    expect(srv.s.crash).toBeUndefined();
    expect(srv.s.alive).toBe(true);
    const c = await plain(srv.port);
    const data = await c.epsv();
    c.send('RETR small.txt');
    await c.expect(150);
    expect((await readAll(data)).toString()).toBe('small file\n');
    await c.expect(226);
    c.close();
    const t = await secure(srv.port);
    const d2 = await t.epsv();
    t.send('LIST');
    await t.expect(150);
    const list = await t.protect(d2);
    expect((await readAll(list)).toString()).toMatch(/small\.txt/);
    await t.expect(226);
    await t.expectCmd('QUIT', 221);
    t.close();
  });

  afterAll(async () => {
    const errors = srv.s.logs().filter((l) => (l.level as number) >= 50);
    // Unexpected failures are logged at error level ("session failed", "command failed", ...).
    expect(errors.map((l) => JSON.stringify(l))).toEqual([]);
    const end = await within(srv.s.stop('SIGTERM'), 20_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    expect(srv.s.crash).toBeUndefined();
  });
  return srv;
}
