/**
 * server.sessions: a read-only view of each session (who, from where, TLS, data protection, when,
 * transferring, bytes) that follows the session as it goes, and disconnect(reason).
 */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, MemoryStorage, type FtpsdServer, type Session, type Storage } from '../../src/index.js';
import { readAll } from '../helpers/raw-client.js';
import { RawClient } from '../helpers/raw-client.js';
import { testCert } from '../helpers/server.js';
import { connect, portOf } from './helpers.js';

/** A storage whose file `endless` sends 64 KiB and then waits (a transfer that stays running). */
function withEndlessFile(inner: MemoryStorage): Storage {
  return Object.assign(Object.create(inner) as MemoryStorage, {
    async read(path: readonly string[], options?: { start?: number }): Promise<Readable> {
      if (path.join('/') !== 'endless') return inner.read(path, options);
      let sent = false;
      return new Readable({
        read() {
          if (!sent) this.push(Buffer.alloc(64 * 1024, 1));
          sent = true;
        },
      });
    },
    async stat(path: readonly string[]) {
      if (path.join('/') === 'endless') return { name: 'endless', type: 'file' as const, size: 1e12, mtime: new Date() };
      return inner.stat(path);
    },
  });
}

describe('server.sessions', () => {
  let server: FtpsdServer;
  const memory = new MemoryStorage({ 'ten.bin': Buffer.alloc(10, 7) });
  beforeAll(async () => {
    const cert = await testCert();
    server = createServer({
      listen: '127.0.0.1:0',
      implicitListen: '127.0.0.1:0',
      tls: { cert: cert.cert, key: cert.key },
      tlsRequired: 'off',
      users: [{ name: 'alice', password: 'secret' }],
      storage: withEndlessFile(memory),
    });
    await server.listen();
  });
  afterAll(() => server.close());

  it('is empty with no client, and shows each session with its state as it changes', async () => {
    expect(server.sessions.size).toBe(0);
    expect(server.sessions.list()).toEqual([]);
    const before = Date.now();
    const c = await RawClient.connect(portOf(server));
    expect(server.sessions.size).toBe(1);
    const [session] = server.sessions.list() as [Session];
    expect(session).toMatchObject({ remoteAddress: '127.0.0.1', user: undefined, secure: false, dataProtection: 'clear', implicit: false, transferring: false, closed: false });
    expect(session.bytes).toEqual({ sent: 0, received: 0 });
    expect(session.connectedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(session.connectedAt.getTime()).toBeLessThanOrEqual(Date.now());
    expect(server.sessions.get(session.id)).toBe(session);
    expect([...server.sessions]).toEqual([session]);

    await c.auth('TLS');
    expect(session.secure).toBe(true);
    await c.login('alice', 'secret');
    expect(session.user).toBe('alice');
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT P', 200);
    expect(session.dataProtection).toBe('private');
    await c.expectCmd('TYPE I', 200);
    const data = await c.epsv();
    c.send('RETR ten.bin');
    await c.expect(150);
    expect((await readAll(await c.protect(data))).length).toBe(10);
    await c.expect(226);
    const up = await c.epsv();
    c.send('STOR up.bin');
    await c.expect(150);
    const secured = await c.protect(up);
    secured.end(Buffer.alloc(3));
    await c.expect(226);
    expect(session.bytes).toEqual({ sent: 10, received: 3 });
    await c.expectCmd('REIN', 220);
    expect(session.user).toBeUndefined();
    c.close();
    await once(server, 'disconnect');
    expect(session.closed).toBe(true);
    expect(server.sessions.size).toBe(0);
    expect(server.sessions.get(session.id)).toBeUndefined();
    expect(JSON.parse(JSON.stringify(session))).toMatchObject({ id: session.id, closed: true, bytes: { sent: 10, received: 3 } });
  });

  it('implicit FTPS sessions are secure with protected data from the start', async () => {
    const c = await RawClient.connect(server.addresses!.implicit[0]!.port, '127.0.0.1', { implicit: true });
    const session = server.sessions.list()[0]!;
    expect(session).toMatchObject({ implicit: true, secure: true, dataProtection: 'private' });
    c.close();
    await once(server, 'disconnect');
  });

  it('shows a running transfer, and disconnect(reason) ends it: 421 with the reason, connection closed', async () => {
    const c = await RawClient.connect(portOf(server));
    await c.login('alice', 'secret');
    await c.expectCmd('TYPE I', 200);
    const data = await c.epsv();
    c.send('RETR endless');
    await c.expect(150);
    await once(data, 'data');
    const session = server.sessions.list()[0]!;
    expect(session.transferring).toBe(true);
    await expect.poll(() => session.bytes.sent).toBeGreaterThan(0);
    await session.disconnect('Maintenance: back at 10.');
    expect(session.closed).toBe(true);
    expect(server.sessions.size).toBe(0);
    const r = await c.reply();
    expect(r.text).toBe('421 Maintenance: back at 10.');
    expect(await c.waitClosed()).toBe(true);
    await session.disconnect(); // already closed: resolves
  });

  it('disconnect() without a reason; a reason cannot add reply lines', async () => {
    const c1 = await RawClient.connect(portOf(server));
    const c2 = await RawClient.connect(portOf(server));
    const [s1, s2] = server.sessions.list() as [Session, Session];
    await s1.disconnect();
    await s2.disconnect('first line\r\n230 injected');
    const replies = [await c1.reply(), await c2.reply()];
    expect(replies.map((r) => r.text).sort()).toEqual(['421 Disconnected by the server.', '421 first line  230 injected'].sort());
    expect(await c1.waitClosed()).toBe(true);
    expect(await c2.waitClosed()).toBe(true);
  });

  it('a basic-ftp client sees the session; the view has no internals', async () => {
    const client = await connect(server, 'alice', 'secret', { secure: true });
    const session = server.sessions.list()[0]!;
    expect(session.user).toBe('alice');
    expect(Object.keys(JSON.parse(JSON.stringify(session))).sort()).toEqual(
      ['bytes', 'closed', 'connectedAt', 'cwd', 'dataProtection', 'id', 'implicit', 'remoteAddress', 'secure', 'transferring', 'user'].sort(),
    );
    expect('socket' in session).toBe(false);
    expect('channel' in session).toBe(false);
    client.close();
    await once(server, 'disconnect');
  });
});
