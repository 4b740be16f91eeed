/**
 * Limits: session caps (global, per address, per user), every timeout with small values, one pending
 * passive listener per session, and the cap on consecutive bad commands.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '../../src/settings.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, RO_PASS, RO_USER, USER, usingServer } from '../helpers/server.js';
import { clientFrom, eventually, greeted, receiveAll } from './abuse-helpers.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('session caps', () => {
  it('defaults: 1000 sessions, 50 per address, 50 per user (rclone --transfers 8 --checkers 8 from three devices)', () => {
    expect(DEFAULT_LIMITS.maxSessions).toBe(1000);
    expect(DEFAULT_LIMITS.maxSessionsPerAddress).toBe(50);
    expect(DEFAULT_LIMITS.maxSessionsPerUser).toBe(50);
  });

  it('refuses connections over maxSessions with 421 before the greeting, and admits again when one leaves', async () => {
    await usingServer({ implicit: true, limits: { maxSessions: 2 } }, async (t) => {
      // Logged in: a connection waiting to log in would be pushed out for the new one instead
      // (limits.maxUnauthenticated, prelogin-flood.test.ts).
      const a = await clientFrom(t.port, '127.0.10.1');
      await a.login(USER, PASS);
      const b = await clientFrom(t.port, '127.0.10.2');
      await b.login(USER, PASS);
      expect(await receiveAll(t.port, '127.0.10.3')).toEqual({ text: '421 Too many sessions on this server (maxSessions); try again later.\r\n', closed: true });
      // The cap is server-wide: the implicit listener is full too (closed without a byte).
      expect(await receiveAll(t.implicitPort!, '127.0.10.3')).toEqual({ text: '', closed: true });
      a.close();
      expect(await eventually(() => greeted(t.port, '127.0.10.3'))).toBe(true);
      b.close();
    });
  });

  it('refuses connections over maxSessionsPerAddress; other addresses are not affected', async () => {
    await usingServer({ limits: { maxSessionsPerAddress: 2 } }, async (t) => {
      const a = await clientFrom(t.port, '127.0.11.1');
      const b = await clientFrom(t.port, '127.0.11.1');
      expect(await receiveAll(t.port, '127.0.11.1')).toEqual({
        text: '421 Too many sessions from your address (maxSessionsPerAddress); try again later.\r\n',
        closed: true,
      });
      const other = await clientFrom(t.port, '127.0.11.2');
      await other.login(USER, PASS);
      // A session that ends frees its slot (also when the server closed it).
      await a.expectCmd('QUIT', 221);
      expect(await eventually(() => greeted(t.port, '127.0.11.1'))).toBe(true);
      b.close();
      other.close();
    });
  });

  it('refuses the PASS over maxSessionsPerUser with 421 and closes; counts only logged-in sessions', async () => {
    await usingServer({ limits: { maxSessionsPerUser: 1 } }, async (t) => {
      const first = await clientFrom(t.port, '127.0.12.1');
      await first.login(USER, PASS);
      const second = await clientFrom(t.port, '127.0.12.2');
      // A wrong password is still a plain failure: the cap is checked after the password.
      await second.expectCmd(`USER ${USER}`, 331);
      await second.expectCmd('PASS wrong', 530, /^530 Login incorrect\.$/);
      await second.expectCmd(`USER ${USER}`, 331);
      second.send(`PASS ${PASS}`);
      await second.expect(421, /^421 Too many sessions for this user \(limit 1: maxSessionsPerUser\)\.$/);
      expect(await second.waitClosed()).toBe(true);
      // Another user is not affected.
      const bob = await clientFrom(t.port, '127.0.12.3');
      await bob.login(RO_USER, RO_PASS);
      // REIN logs the first session out: its slot is free.
      await first.expectCmd('REIN', 220);
      const third = await clientFrom(t.port, '127.0.12.4');
      await third.login(USER, PASS);
      // ... and a closed session frees its slot too.
      third.close();
      const ok = await eventually(async () => {
        const c = await clientFrom(t.port, '127.0.12.5');
        await c.expectCmd(`USER ${USER}`, 331);
        const r = await c.cmd(`PASS ${PASS}`);
        c.close();
        return r.code === 230;
      });
      expect(ok).toBe(true);
      first.close();
      bob.close();
    });
  });
});

describe('timeouts', () => {
  it('login: 421 when no login happens in time, also after REIN', async () => {
    await usingServer({ timeouts: { loginMs: 1500 } }, async (t) => {
      const c = await clientFrom(t.port, '127.0.13.1');
      await c.expectCmd('NOOP', 200); // activity does not extend the login time
      await c.expect(421, /^421 Login timeout\.$/);
      expect(await c.waitClosed()).toBe(true);

      const d = await clientFrom(t.port, '127.0.13.2');
      await d.login(USER, PASS);
      await sleep(2000); // logged in: no login timeout
      await d.expectCmd('REIN', 220);
      await d.expect(421, /^421 Login timeout\.$/);
      expect(await d.waitClosed()).toBe(true);
    });
  });

  it('idle: 421 after idleMs without a command', async () => {
    await usingServer({ timeouts: { idleMs: 300 } }, async (t) => {
      const c = await clientFrom(t.port, '127.0.14.1');
      await c.login(USER, PASS);
      await c.expect(421, /^421 Idle timeout; closing connection\.$/);
      expect(await c.waitClosed()).toBe(true);
    });
  });

  it('idle: never while a transfer runs, even when it outlasts idleMs several times', async () => {
    const storage = new MemoryStorage();
    await usingServer({ storage, timeouts: { idleMs: 500, stalledTransferMs: 10_000 } }, async (t) => {
      const c = await clientFrom(t.port, '127.0.14.2');
      await c.login(USER, PASS);
      const data = await c.epsv();
      c.send('STOR slow.bin');
      await c.expect(150);
      for (let i = 0; i < 12; i++) {
        data.write(Buffer.alloc(100, 0x41 + i));
        await sleep(200);
      }
      data.end();
      await c.expect(226); // not a 421 on the way
      expect((await storage.stat(['slow.bin'])).size).toBe(1200);
      c.close();
    });
  });

  it('passive accept: 425 when the client does not connect in time', async () => {
    await usingServer({ timeouts: { dataConnectMs: 300 } }, async (t) => {
      const c = await clientFrom(t.port, '127.0.15.1');
      await c.login(USER, PASS);
      await c.expectCmd('EPSV', 229);
      await c.expectCmd('LIST', 425, /^425 Can't open data connection\.$/);
      await c.expectCmd('NOOP', 200);
      c.close();
    });
  });

  describe('active connect', () => {
    // A listener with a full accept queue (backlog 0, one connection waiting): the kernel drops further
    // SYNs, so a connect to it hangs instead of failing at once.
    let py: ChildProcess;
    let port: number;
    const fillers: Socket[] = [];
    beforeAll(async () => {
      py = spawn('python3', [
        '-c',
        'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
      ]);
      const [line] = (await once(py.stdout!, 'data')) as [Buffer];
      port = Number(line.toString().trim());
      for (let i = 0; i < 3; i++) {
        const s = connect({ port, host: '127.0.0.1' });
        s.on('error', () => {});
        fillers.push(s);
      }
      await sleep(300);
    });
    afterAll(() => {
      for (const s of fillers) s.destroy();
      py.stdin?.end();
      py.kill();
    });

    it('425 when the connection to the client does not complete in time', async () => {
      // The probe shows the port really hangs (else the test would prove nothing).
      const probe = connect({ port, host: '127.0.0.1' });
      probe.on('error', () => {});
      await sleep(500);
      expect(probe.connecting).toBe(true);
      probe.destroy();

      await usingServer({ timeouts: { dataConnectMs: 500 } }, async (t) => {
        const c = await RawClient.connect(t.port);
        await c.login(USER, PASS);
        await c.expectCmd(`PORT 127,0,0,1,${port >> 8},${port & 255}`, 200);
        await c.expectCmd('LIST', 425, /^425 Can't open data connection\.$/);
        await c.expectCmd('NOOP', 200);
        c.close();
      });
    });
  });

  it('stalled transfer: 426 when an upload sends nothing for stalledTransferMs', async () => {
    await usingServer({ storage: new MemoryStorage(), timeouts: { stalledTransferMs: 300 } }, async (t) => {
      const c = await clientFrom(t.port, '127.0.16.1');
      await c.login(USER, PASS);
      const data = await c.epsv();
      c.send('STOR stalled.bin');
      await c.expect(150);
      data.write('some bytes, then nothing');
      await c.expect(426, /^426 Data connection stalled; transfer aborted\.$/);
      await c.expectCmd('NOOP', 200);
      data.destroy();
      c.close();
    });
  });

  /** A client that stops reading a 32 MiB download gets the stall's 426, and its session goes on. */
  async function stalledDownload(t: { port: number }, from: string): Promise<void> {
    const c = await clientFrom(t.port, from);
    await c.login(USER, PASS);
    await c.expectCmd('TYPE I', 200);
    const data = await c.epsv();
    data.pause();
    c.send('RETR big.bin');
    await c.expect(150);
    await c.expect(426, /^426 Data connection stalled; transfer aborted\.$/);
    await c.expectCmd('NOOP', 200);
    data.destroy();
    c.close();
  }

  it('stalled transfer: 426 when the client stops reading a download', async () => {
    const storage = new MemoryStorage({ 'big.bin': Buffer.alloc(32 * 1024 * 1024, 7) });
    await usingServer({ storage, timeouts: { stalledTransferMs: 300 } }, (t) => stalledDownload(t, '127.0.16.2'));
  });

  it('stalled transfer: 426 when the client stops reading a download of a local file (sent through reused buffers)', async () => {
    await usingServer({ timeouts: { stalledTransferMs: 300 } }, async (t) => {
      await writeFile(join(t.root, 'big.bin'), Buffer.alloc(32 * 1024 * 1024, 7));
      await stalledDownload(t, '127.0.16.3');
    });
  });

  describe('TLS handshakes', () => {
    const t = serverForBlock({ implicit: true, timeouts: { handshakeMs: 1000 } });

    it('implicit FTPS: a client that never sends a ClientHello is dropped', async () => {
      expect(await receiveAll(t.implicitPort!, '127.0.17.1')).toEqual({ text: '', closed: true });
    });

    it('AUTH TLS: a client that never starts the handshake is dropped after the 234', async () => {
      const c = await clientFrom(t.port, '127.0.17.2');
      await c.expectCmd('AUTH TLS', 234);
      expect(await c.waitClosed()).toBe(true);
    });

    it('a protected data connection that never starts TLS: 425, the session goes on', async () => {
      const c = await RawClient.connect(t.implicitPort!, '127.0.0.1', { implicit: true });
      await c.login(USER, PASS);
      await c.expectCmd('PBSZ 0', 200);
      await c.expectCmd('PROT P', 200);
      const data = await c.epsv();
      c.send('LIST');
      await c.expect(150);
      await c.expect(425);
      await c.expectCmd('NOOP', 200);
      data.destroy();
      c.close();
    });
  });
});

describe('one pending data listener per session', () => {
  /** The port of a 229 reply. */
  const epsvPort = (reply: string) => Number(/\|\|\|(\d+)\|/.exec(reply)![1]);
  /** 'connected', or the error code of a connection attempt to `port` on loopback. */
  const connectOutcome = (port: number) =>
    new Promise<string>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });

  const t = serverForBlock();

  it('a new EPSV re-arms the one listener (same port): what connected for the previous one is closed', async () => {
    const c = await clientFrom(t.port, '127.0.18.1');
    await c.login(USER, PASS);
    const first = epsvPort((await c.expectCmd('EPSV', 229)).text);
    const early = connect({ port: first, host: '127.0.0.1', localAddress: '127.0.18.1' });
    early.on('error', () => {});
    await once(early, 'connect');
    const second = epsvPort((await c.expectCmd('EPSV', 229)).text);
    expect(second).toBe(first); // no second port: one listener per session
    await once(early, 'close');
    // The new arming works.
    const data = connect({ port: second, host: '127.0.0.1', localAddress: '127.0.18.1' });
    data.on('error', () => {});
    await once(data, 'connect');
    c.send('NLST');
    await c.expect(150);
    data.resume();
    await c.expect(226);
    c.close();
  });

  it('PASV after EPSV uses the same listener; PORT closes it', async () => {
    const c = await clientFrom(t.port, '127.0.18.2');
    await c.login(USER, PASS);
    const epsv = epsvPort((await c.expectCmd('EPSV', 229)).text);
    const pasv = (await c.expectCmd('PASV', 227)).text;
    const n = /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(pasv)!.slice(1).map(Number);
    const pasvPort = n[4]! * 256 + n[5]!;
    expect(pasvPort).toBe(epsv);
    await c.expectCmd('PORT 127,0,18,2,200,1', 200);
    expect(await connectOutcome(epsv)).toBe('ECONNREFUSED');
    c.close();
  });
});

describe('consecutive bad commands', () => {
  it('closes after maxBadCommands bad lines of any kind (unknown, too long, invalid UTF-8)', async () => {
    await usingServer({ limits: { maxBadCommands: 3, maxLineBytes: 512 } }, async (t) => {
      const c = await clientFrom(t.port, '127.0.19.1');
      await c.expectCmd('FOO', 500);
      await c.expectCmd('NOOP', 200); // resets the count
      await c.expectCmd('BAR', 500);
      c.send('NOOP ' + 'x'.repeat(600));
      await c.expect(500, /^500 Line too long\.$/);
      c.write(Buffer.from([0x4e, 0x4f, 0x20, 0xc3, 0x28, 0x0d, 0x0a])); // "NO " + invalid UTF-8
      await c.expect(501);
      await c.expect(421, /^421 Too many bad commands; closing connection\.$/);
      expect(await c.waitClosed()).toBe(true);
    });
  });
});
