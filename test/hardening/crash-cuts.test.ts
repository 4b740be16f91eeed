/**
 * Crash-proofing, part 1: control and data connections cut at every phase of a session (before the
 * greeting, mid-line, mid-handshake, logged in, mid-listing, mid-transfer, ...), with RST and with FIN.
 * ftpsd runs as a child process (a crash shows as an exit, with a `CRASH` report from the test preload);
 * after each cut the process must be alive and serve a fresh client (see crashServer()).
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { authClearable } from '../helpers/ccc.js';
import { allBytes } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { ChildServer } from './child-server.js';
import { cleanUpChildren, clientHello, crashServer, cut, PASS, plain, readSome, secure, sleep, USER } from './crash-helpers.js';

cleanUpChildren();

describe('crash-proof: cuts at every phase', () => {
  const srv = crashServer();
  let s: ChildServer;
  let port: number;
  let implicitPort: number;
  beforeAll(() => ({ s, port, implicitPort } = srv));

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
});
