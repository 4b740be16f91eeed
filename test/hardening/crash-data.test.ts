/**
 * Crash-proofing, part 2: byte ranges aborted and cut, active mode refused and reset, garbage and the
 * wrong protection on data connections, half-open connections, and a storm of sessions reset at once.
 * After each test the child ftpsd must be alive and serve a fresh client (see crashServer()).
 */
import { once } from 'node:events';
import { type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { allBytes } from '../helpers/flows.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { ChildServer } from './child-server.js';
import { BIG, cleanUpChildren, clientHello, crashServer, cut, type Cut, plain, readSome, secure, sleep, USER } from './crash-helpers.js';

cleanUpChildren();

describe('crash-proof: data connections, half-open connections and storms', () => {
  const srv = crashServer();
  let s: ChildServer;
  let port: number;
  let implicitPort: number;
  beforeAll(() => ({ s, port, implicitPort } = srv));

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
