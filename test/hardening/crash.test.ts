/**
 * Crash-proofing: ftpsd runs as a child process (so a crash is visible as an exit, with a `CRASH` report
 * from the test preload), and connections are cut at every phase, with RST and with FIN. After each cut
 * the process must be alive and serve a fresh client. Then: graceful shutdown on SIGTERM.
 */
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authClearable } from '../helpers/ccc.js';
import { allBytes } from '../helpers/flows.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { ChildServer, killChildren, removeTempDirs, tempDir } from './child-server.js';
import { within } from './tls-helpers.js';

const USER = 'alice';
const PASS = 'secret';
const BIG = 24 * 1024 * 1024;

afterAll(async () => {
  killChildren();
  await removeTempDirs();
});

/** A root with a small file, a big file and a directory of many entries; a config with short timeouts. */
async function prepare(): Promise<{ dir: string; args: string[] }> {
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

type Cut = 'rst' | 'fin';

/** Cuts a connection: RST (reset at once) or FIN (we end our side, then close a moment later). */
function cut(socket: Socket, how: Cut): void {
  if (how === 'rst') {
    if (!socket.destroyed) socket.resetAndDestroy();
    return;
  }
  socket.end();
  setTimeout(() => socket.destroy(), 200).unref();
}

/** The first bytes of a TLS ClientHello, as Node's client sends it. */
async function clientHello(): Promise<Buffer> {
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

async function plain(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.login(USER, PASS);
  await c.expectCmd('TYPE I', 200);
  return c;
}

async function secure(port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.auth();
  await c.login(USER, PASS);
  await c.expectCmd('PBSZ 0', 200);
  await c.expectCmd('PROT P', 200);
  await c.expectCmd('TYPE I', 200);
  return c;
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Reads from `s` until `n` bytes arrived (or it ends). */
async function readSome(s: Socket | TLSSocket, n: number): Promise<number> {
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

describe('crash-proof: cuts at every phase', () => {
  let s: ChildServer;
  let port: number;
  let implicitPort: number;

  beforeAll(async () => {
    const { args } = await prepare();
    s = await ChildServer.start(args);
    port = s.port();
    implicitPort = s.port('implicit');
  });

  /** The process is alive and a fresh client can log in, list and download, plain and over TLS. */
  afterEach(async () => {
    await sleep(50);
    expect(s.crash).toBeUndefined();
    expect(s.alive).toBe(true);
    const c = await plain(port);
    const data = await c.epsv();
    c.send('RETR small.txt');
    await c.expect(150);
    expect((await readAll(data)).toString()).toBe('small file\n');
    await c.expect(226);
    c.close();
    const t = await secure(port);
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
    const errors = s.logs().filter((l) => (l.level as number) >= 50);
    // Unexpected failures are logged at error level ("session failed", "command failed", ...).
    expect(errors.map((l) => JSON.stringify(l))).toEqual([]);
    const end = await within(s.stop('SIGTERM'), 20_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    expect(s.crash).toBeUndefined();
  });

  for (const how of ['rst', 'fin'] as const) {
    describe(`with ${how.toUpperCase()}`, () => {
      it('right after connecting, before the greeting is read', async () => {
        const socket = netConnect({ port, host: '127.0.0.1' });
        socket.on('error', () => {});
        await once(socket, 'connect');
        cut(socket, how);
      });

      it('mid-command (a partial line)', async () => {
        const c = await RawClient.connect(port);
        c.write(`USER ${USER}\r\nPASS ${PASS}\r\nRETR sma`);
        await c.expect(331);
        cut(c.raw, how);
      });

      it('during a login (PASS sent, reply not read)', async () => {
        const c = await RawClient.connect(port);
        c.write(`USER ${USER}\r\nPASS wrong\r\n`);
        cut(c.raw, how);
      });

      it('during AUTH (before the 234 is read)', async () => {
        const c = await RawClient.connect(port);
        c.send('AUTH TLS');
        cut(c.raw, how);
      });

      it('during the control TLS handshake: partial ClientHello, explicit and implicit', async () => {
        const hello = await clientHello();
        const c = await RawClient.connect(port);
        await c.expectCmd('AUTH TLS', 234);
        c.raw.write(hello.subarray(0, hello.length >> 1));
        await sleep(20);
        cut(c.raw, how);
        const i = netConnect({ port: implicitPort, host: '127.0.0.1' });
        i.on('error', () => {});
        await once(i, 'connect');
        i.write(hello.subarray(0, 40));
        await sleep(20);
        cut(i, how);
      });

      it('during the control TLS handshake: after the server answered', async () => {
        const raw = netConnect({ port: implicitPort, host: '127.0.0.1' });
        raw.on('error', () => {});
        await once(raw, 'connect');
        // Client TLS over a pipe we feed, so we see the server's first flight and cut before our Finished.
        const answered = new Promise<void>((resolve) => raw.once('data', () => resolve()));
        const pipe = new Duplex({
          read() {},
          write(chunk: Buffer, _e, cb) {
            raw.write(chunk, () => cb());
          },
        });
        const tls = tlsConnect({ socket: pipe, rejectUnauthorized: false });
        tls.on('error', () => {});
        await answered; // the ServerHello is here; our Finished is not sent
        cut(raw, how);
        tls.destroy();
      });

      it('during the data TLS handshake', async () => {
        const hello = await clientHello();
        const c = await secure(port);
        const data = await c.epsv();
        c.send('RETR small.txt');
        await c.expect(150);
        data.write(hello.subarray(0, 30));
        await sleep(20);
        cut(data, how);
        await c.expect(425);
        // And the control connection while a data handshake waits.
        const d2 = await c.epsv();
        c.send('RETR small.txt');
        await c.expect(150);
        d2.write(hello);
        cut(c.raw, how);
        await sleep(20);
        d2.destroy();
      });

      it('mid-listing (a large directory): the data connection, then the control connection', async () => {
        const c = await plain(port);
        const data = await c.epsv();
        c.send('LIST many');
        await c.expect(150);
        await readSome(data, 1000);
        cut(data, how);
        const r = await c.reply();
        expect([226, 426]).toContain(r.code);
        const d2 = await c.epsv();
        c.send('MLSD many');
        await c.expect(150);
        await readSome(d2, 1000);
        cut(c.raw, how);
        await sleep(20);
        d2.destroy();
      });

      it('mid-upload: the data connection, then the control connection (plain and protected)', async () => {
        for (const protect of [false, true]) {
          const c = protect ? await secure(port) : await plain(port);
          const data = await c.epsv();
          c.send(`STOR up-${how}-${protect}.bin`);
          await c.expect(150);
          const out: Socket | TLSSocket = protect ? await c.protect(data) : data;
          out.write(allBytes(1_000_000));
          await sleep(20);
          cut(data, how); // the raw TCP socket, also under TLS
          const r = await c.reply();
          expect([226, 426]).toContain(r.code);
          const d2 = await c.epsv();
          c.send(`APPE up-${how}-${protect}.bin`);
          await c.expect(150);
          const out2: Socket | TLSSocket = protect ? await c.protect(d2) : d2;
          out2.write(allBytes(500_000));
          await sleep(20);
          cut(c.raw, how);
          await sleep(20);
          d2.destroy();
        }
      });

      it('mid-download of a large file: the data connection, then the control connection (plain and protected)', async () => {
        for (const protect of [false, true]) {
          const c = protect ? await secure(port) : await plain(port);
          const data = await c.epsv();
          c.send('RETR big.bin');
          await c.expect(150);
          const input: Socket | TLSSocket = protect ? await c.protect(data) : data;
          await readSome(input, 100_000);
          cut(data, how);
          const r = await c.reply();
          expect([226, 426]).toContain(r.code);
          const d2 = await c.epsv();
          c.send('RETR big.bin');
          await c.expect(150);
          const in2: Socket | TLSSocket = protect ? await c.protect(d2) : d2;
          await readSome(in2, 100_000);
          cut(c.raw, how);
          await sleep(20);
          d2.destroy();
        }
      });

      it('during CCC: after the 200, before our close_notify, and after it', async () => {
        for (const when of ['before', 'after'] as const) {
          const c = await RawClient.connect(port);
          const tls = await authClearable(c);
          await c.login(USER, PASS);
          tls.removeAllListeners('close');
          await c.expectCmd('CCC', 200);
          if (when === 'after') tls.end();
          await sleep(when === 'after' ? 5 : 0);
          cut(c.raw, how);
        }
      });

      it('with a data connection waiting (PASV) and one accepted but unused', async () => {
        const c = await plain(port);
        await c.expectCmd('PASV', 227);
        const data = await c.epsv(); // replaces the PASV listener
        cut(data, how);
        cut(c.raw, how);
      });
    });
  }

  it('aborted and cut downloads of byte ranges leave no file open (RANG, REST)', async (ctx) => {
    if (s.fdCount() === undefined) ctx.skip();
    const c = await plain(port);
    await sleep(300);
    const before = s.fdCount()!;
    for (let i = 0; i < 8; i++) {
      await c.expectCmd(i % 2 ? 'RANG 10 20000000' : 'REST 10', 350);
      const d = await c.epsv();
      c.send('RETR big.bin');
      await c.expect(150);
      await readSome(d, 1);
      if (i % 4 < 2) {
        c.send('ABOR');
        await c.expect(426);
        await c.expect(226);
        d.destroy();
      } else {
        d.resetAndDestroy();
        await c.expect(426);
      }
    }
    const deadline = Date.now() + 10_000;
    while (s.fdCount()! > before && Date.now() < deadline) await sleep(100);
    expect(s.fdCount()).toBeLessThanOrEqual(before);
    c.close();
  });

  it('active mode (PORT, EPRT): refused, reset on accept, cut mid-download', async () => {
    const { createServer } = await import('node:net');
    const listen = async (onConn: (s: Socket) => void) => {
      const srv = createServer(onConn);
      srv.listen(0, '127.0.0.1');
      await once(srv, 'listening');
      return { srv, port: (srv.address() as { port: number }).port };
    };
    const portArg = (p: number) => `127,0,0,1,${p >> 8},${p & 255}`;
    const c = await plain(port);
    // Nobody listens: 425.
    const closed = await listen(() => {});
    const deadPort = closed.port;
    closed.srv.close();
    await c.expectCmd(`PORT ${portArg(deadPort)}`, 200);
    c.send('RETR big.bin');
    expect([425, 426]).toContain((await c.reply()).code);
    // Reset as soon as the server connects.
    const reset = await listen((s) => s.resetAndDestroy());
    await c.expectCmd(`EPRT |1|127.0.0.1|${reset.port}|`, 200);
    c.send('RETR big.bin');
    const r1 = await c.reply();
    if (r1.code === 150) expect((await c.reply()).code).toBe(426);
    else expect(r1.code).toBe(425);
    reset.srv.close();
    // Cut after some data arrived.
    const cutter = await listen((s) => {
      s.on('error', () => {});
      s.once('data', () => s.resetAndDestroy());
    });
    await c.expectCmd(`PORT ${portArg(cutter.port)}`, 200);
    c.send('RETR big.bin');
    await c.expect(150);
    await c.expect(426);
    cutter.srv.close();
    c.close();
  });

  it('garbage on the data port, plain and protected', async () => {
    const c = await plain(port);
    const data = await c.epsv();
    data.write(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3, 0, 0, 0]));
    c.send('RETR small.txt');
    await c.expect(150);
    expect((await readAll(data)).toString()).toBe('small file\n'); // plain: the server ignores what we send
    await c.expect(226);
    c.close();

    const t = await secure(port);
    for (const garbage of [Buffer.from('GET / HTTP/1.0\r\n\r\n'), Buffer.alloc(70_000, 0x16), Buffer.from([0x16, 0x03, 0x03, 0x00, 0x05, 0x02, 0, 0, 1, 0])]) {
      const d = await t.epsv();
      t.send('RETR small.txt');
      await t.expect(150);
      d.on('data', () => {});
      d.write(garbage);
      await t.expect(425);
      d.destroy();
    }
    t.close();
  });

  it('TLS on a plain data connection, and plain on a protected one', async () => {
    const c = await plain(port);
    const d = await c.epsv();
    c.send('RETR small.txt');
    await c.expect(150);
    const tls = tlsConnect({ socket: d, rejectUnauthorized: false });
    tls.on('error', () => {});
    await c.expect(226); // the server sent the file in clear; our TLS client choked on it
    tls.destroy();
    const u = await c.epsv();
    c.send('STOR tls-into-plain.bin');
    await c.expect(150);
    const tls2 = tlsConnect({ socket: u, rejectUnauthorized: false });
    tls2.on('error', () => {});
    await sleep(50);
    tls2.destroy();
    u.destroy();
    expect([226, 426]).toContain((await c.reply()).code);
    c.close();

    const t = await secure(port);
    const p = await t.epsv();
    t.send('STOR plain-into-tls.bin');
    await t.expect(150);
    p.on('data', () => {});
    p.end('just some plaintext\r\n');
    await t.expect(425);
    t.close();
  });

  it('half-open connections: the client ends its side but keeps reading', async () => {
    const c = await RawClient.connect(port);
    c.write(`USER ${USER}\r\n`);
    c.raw.end();
    await c.expect(331);
    expect(await c.waitClosed(10_000)).toBe(true);

    const d = await plain(port);
    const data = await d.epsv();
    d.send('RETR big.bin');
    await d.expect(150);
    data.end(); // half-close the data connection, keep reading
    let got = 0;
    data.on('data', (b: Buffer) => (got += b.length));
    await Promise.race([once(data, 'close'), sleep(10_000)]);
    const r = await d.reply();
    if (r.code === 226) expect(got).toBe(BIG);
    else expect(r.code).toBe(426);
    d.close();
  });

  it('a storm: 60 sessions in every phase, all reset at once', async () => {
    const hello = await clientHello();
    const sockets: Socket[] = [];
    const setups = Array.from({ length: 60 }, async (_, i) => {
      switch (i % 6) {
        case 0: {
          const c = await RawClient.connect(port, '127.0.0.1', { greeting: false });
          sockets.push(c.raw);
          return;
        }
        case 1: {
          const c = await plain(port);
          const d = await c.epsv();
          c.send('RETR big.bin');
          await c.expect(150);
          sockets.push(c.raw, d);
          return;
        }
        case 2: {
          const c = await secure(port);
          const d = await c.epsv();
          c.send('STOR storm.bin');
          await c.expect(150);
          const tls = await c.protect(d);
          tls.write(allBytes(100_000));
          sockets.push(c.raw, d);
          return;
        }
        case 3: {
          const c = await RawClient.connect(port);
          await c.expectCmd('AUTH TLS', 234);
          c.raw.write(hello.subarray(0, 20));
          sockets.push(c.raw);
          return;
        }
        case 4: {
          const c = await plain(port);
          const d = await c.epsv();
          c.send('LIST many');
          await c.expect(150);
          sockets.push(c.raw, d);
          return;
        }
        default: {
          const c = await plain(port);
          c.write('NOOP\r\nNOOP\r\nSTAT\r\nRETR small.txt\r\nLIST\r\n');
          sockets.push(c.raw);
        }
      }
    });
    await Promise.all(setups);
    for (const socket of sockets) socket.resetAndDestroy();
  });
});

describe('graceful shutdown on SIGTERM', () => {
  afterEach(killChildren);

  /** A logged-in idle client and one whose download of big.bin waits while we hold its data socket. */
  async function setup(): Promise<{ s: ChildServer; idle: RawClient; busy: RawClient; data: Socket }> {
    const { args } = await prepare();
    const s = await ChildServer.start(args);
    const idle = await plain(s.port());
    const busy = await plain(s.port());
    const data = await busy.epsv();
    busy.send('RETR big.bin');
    await busy.expect(150);
    data.pause(); // the transfer stalls on backpressure until we read
    await sleep(300);
    return { s, idle, busy, data };
  }

  it('stops accepting, tells idle sessions 421, and lets a running download finish', async () => {
    const { s, idle, busy, data } = await setup();
    const port = s.port();
    s.signal('SIGTERM');
    await idle.expect(421, /shutting down/i);
    expect(await idle.waitClosed()).toBe(true);
    // No new sessions: refused or closed without a greeting.
    const late = netConnect({ port, host: '127.0.0.1' });
    let greeted = false;
    late.on('data', () => (greeted = true));
    late.on('error', () => {});
    await Promise.race([new Promise((r) => late.once('close', r)), sleep(5000)]);
    expect(greeted).toBe(false);
    // The download goes on and completes within the grace period.
    const body = await readAll((data.resume(), data));
    expect(body.length).toBe(BIG);
    await busy.expect(226);
    await busy.expect(421);
    const end = await within(s.exited, 20_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    expect(s.crash).toBeUndefined();
  });

  it('cuts a download that is still running when the grace period ends, then exits 0', async () => {
    const { s, idle, busy, data } = await setup();
    let got = 0;
    s.signal('SIGTERM');
    await idle.expect(421);
    // We never read: the transfer cannot end by itself, so the deadline (10 s) cuts it.
    const end = await within(s.exited, 30_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    data.on('data', (b: Buffer) => (got += b.length));
    data.resume();
    await Promise.race([once(data, 'close'), sleep(10_000)]);
    expect(got).toBeLessThan(BIG);
    const r = await busy.reply().catch(() => undefined);
    expect(r?.code).not.toBe(226);
    expect(s.crash).toBeUndefined();
  });
});
