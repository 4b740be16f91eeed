/**
 * Login abuse: failed logins answered at one fixed moment whatever the cause, a cap of failures per
 * connection, and per-address bans across connections and listeners (refused at accept, before TLS or
 * greeting), with expiry. The ban table itself (LoginThrottle) and the defaults: login-throttle.test.ts.
 *
 * Every test uses its own source address (127.0.0.x), so a ban in one test never touches another.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/password.js';
import { failLogins } from '../helpers/flows.js';
import { PASS, USER, startServer, usingServer } from '../helpers/server.js';
import { BANNED, clientFrom, eventually, greeted, receiveAll, timed } from './abuse-helpers.js';
import { captureLog } from '../helpers/log-capture.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('constant-time failed logins', () => {
  it('pads every failure to the same deadline, also when the password check is slow', async () => {
    // One account's check takes 1.5 s, another's is instant: both failures must come at the deadline
    // (2 s after PASS), not after "check + delay".
    const slow: Authenticator = {
      async login(req) {
        if (req.user === 'slow') await sleep(1500);
        return null;
      },
    };
    await usingServer({ authenticator: slow, limits: { loginFailureDelayMs: 2000 } }, async (t) => {
      const attempt = async (local: string, user: string) => {
        const c = await clientFrom(t.port, local);
        await c.expectCmd(`USER ${user}`, 331);
        let text = '';
        const ms = await timed(async () => (text = (await c.cmd('PASS whatever')).text));
        c.close();
        return { ms, text };
      };
      const [a, b] = await Promise.all([attempt('127.0.1.1', 'slow'), attempt('127.0.1.2', 'fast')]);
      expect(a.text).toBe('530 Login incorrect.');
      expect(b.text).toBe('530 Login incorrect.');
      expect(a.ms).toBeGreaterThanOrEqual(1990);
      expect(b.ms).toBeGreaterThanOrEqual(1990);
      // Without the deadline the slow one takes 3.5 s and the fast one 2 s.
      expect(Math.abs(a.ms - b.ms)).toBeLessThan(750);
    });
  });

  it('answers unknown users, wrong plain and wrong argon2id passwords alike; successes are not delayed', async () => {
    const hash = await hashPassword('carol-secret');
    const delay = 1500;
    const t = await startServer({ limits: { loginFailureDelayMs: delay } });
    const t2 = await startServer({
      users: [
        { name: USER, password: { plain: PASS }, home: t.root },
        { name: 'carol', password: { hash }, home: t.root },
      ],
      limits: { loginFailureDelayMs: delay },
    });
    try {
      const attempt = async (local: string, user: string, pass: string) => {
        const c = await clientFrom(t2.port, local);
        await c.expectCmd(`USER ${user}`, 331, /^331 Please specify the password\.$/);
        let text = '';
        const ms = await timed(async () => (text = (await c.cmd(`PASS ${pass}`)).text));
        c.close();
        return { ms, text };
      };
      const failures = await Promise.all([
        attempt('127.0.1.3', 'nobody', 'x'),
        attempt('127.0.1.4', USER, 'wrong'),
        attempt('127.0.1.5', 'carol', 'wrong'),
      ]);
      for (const f of failures) {
        expect(f.text).toBe('530 Login incorrect.');
        expect(f.ms).toBeGreaterThanOrEqual(delay - 10);
      }
      const times = failures.map((f) => f.ms);
      expect(Math.max(...times) - Math.min(...times)).toBeLessThan(500);

      const [plain, argon] = await Promise.all([attempt('127.0.1.6', USER, PASS), attempt('127.0.1.7', 'carol', 'carol-secret')]);
      expect(plain.text).toBe('230 Login successful.');
      expect(argon.text).toBe('230 Login successful.');
      expect(plain.ms).toBeLessThan(delay);
      expect(argon.ms).toBeLessThan(delay);
    } finally {
      await t2.close();
      await t.close();
    }
  });
});

describe('failed logins per connection', () => {
  const t = serverForBlock({ limits: { maxLoginFailures: 3, loginFailureDelayMs: 1 }, security: { ban: false } });

  it('closes the connection after maxLoginFailures (530, then 421)', async () => {
    const c = await clientFrom(t.port, '127.0.2.1');
    await failLogins(c, USER, 3);
    expect(await c.waitClosed()).toBe(true);
  });

  it('with bans off, an address may go on failing on new connections', async () => {
    for (let i = 0; i < 4; i++) {
      const c = await clientFrom(t.port, '127.0.2.2');
      for (let j = 0; j < 3; j++) {
        await c.expectCmd(`USER ${USER}`, 331);
        await c.expectCmd('PASS wrong', 530);
        if (j === 2) await c.expect(421);
      }
      c.close();
    }
    const c = await clientFrom(t.port, '127.0.2.2');
    await c.login(USER, PASS);
    c.close();
  });
});

describe('per-address bans', () => {
  const log = captureLog();
  const t = serverForBlock({
    implicit: true,
    logger: log.logger,
    limits: { maxLoginFailures: 2, loginFailureDelayMs: 1 },
    security: { ban: { failures: 3, windowMs: 600_000, durationMs: 600_000 } },
  });

  async function fail(local: string, times: number): Promise<void> {
    let left = times;
    while (left > 0) {
      const c = await clientFrom(t.port, local);
      const n = Math.min(left, 2);
      for (let i = 0; i < n; i++) {
        await c.expectCmd(`USER ${USER}`, 331);
        c.send('PASS wrong-pw-Zq9');
        await c.expect(530, /^530 Login incorrect\.$/);
      }
      left -= n;
      c.close();
    }
  }

  it('bans an address after N failures across connections: refused at accept with 421, before any greeting', async () => {
    await fail('127.0.3.1', 2);
    // The third failure, on a new connection, starts the ban: 530, then 421 and the connection closes.
    const c = await clientFrom(t.port, '127.0.3.1');
    await c.expectCmd(`USER ${USER}`, 331);
    c.send('PASS wrong-pw-Zq9');
    await c.expect(530, /^530 Login incorrect\.$/);
    await c.expect(421, /^421 Too many failed logins; closing connection\.$/);
    expect(await c.waitClosed()).toBe(true);

    const refused = await receiveAll(t.port, '127.0.3.1');
    expect(refused).toEqual({ text: BANNED, closed: true });
    // Other addresses are not affected.
    const other = await clientFrom(t.port, '127.0.3.2');
    await other.login(USER, PASS);
    other.close();
  });

  it('refuses a banned address on the implicit listener too, without a byte and without TLS', async () => {
    await fail('127.0.3.3', 3);
    const refused = await receiveAll(t.implicitPort!, '127.0.3.3');
    expect(refused).toEqual({ text: '', closed: true });
    // A TLS client gets no handshake.
    const handshake = await new Promise<string>((resolve) => {
      const tcp = netConnect({ port: t.implicitPort!, host: '127.0.0.1', localAddress: '127.0.3.3' });
      tcp.on('error', () => {});
      const s = tlsConnect({ socket: tcp, rejectUnauthorized: false, servername: 'localhost' });
      s.once('secureConnect', () => {
        s.destroy();
        resolve('handshake');
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      s.once('close', () => resolve('closed'));
    });
    expect(handshake).not.toBe('handshake');
    // Failures on the explicit port ban on the implicit port: one table for all listeners.
    const implicitOk = await receiveAll(t.implicitPort!, '127.0.3.4', { timeoutMs: 300 });
    expect(implicitOk.closed).toBe(false);
  });

  it('logs the ban at warn with the address, never the password', async () => {
    await fail('127.0.3.5', 3);
    expect((await receiveAll(t.port, '127.0.3.5')).text).toBe(BANNED);
    const lines = log.lines();
    const banned = lines.find((l) => l.msg === 'address banned after repeated failed logins' && l.peer === '127.0.3.5');
    expect(banned).toMatchObject({ level: 40, failures: 3 });
    const refusal = lines.find((l) => l.msg === 'connection refused' && l.peer === '127.0.3.5');
    expect(refusal).toMatchObject({ level: 40, reason: 'banned' });
    expect(log.text()).not.toContain('wrong-pw-Zq9');
  });

  it('connections opened before the ban cannot log in, not even with the right password', async () => {
    const early = await clientFrom(t.port, '127.0.3.6');
    await fail('127.0.3.6', 3);
    await early.expectCmd(`USER ${USER}`, 331);
    early.send(`PASS ${PASS}`);
    await early.expect(530, /^530 Login incorrect\.$/);
    await early.expect(421, /^421 Too many failed logins; closing connection\.$/);
    expect(await early.waitClosed()).toBe(true);
  });

  it('a successful login does not reset the count of failures', async () => {
    await fail('127.0.3.7', 2);
    const c = await clientFrom(t.port, '127.0.3.7');
    await c.login(USER, PASS);
    c.close();
    await fail('127.0.3.7', 1);
    expect((await receiveAll(t.port, '127.0.3.7')).text).toBe(BANNED);
  });

  it('a logged-in session of a banned address keeps working, but cannot log in again', async () => {
    const c = await clientFrom(t.port, '127.0.3.8');
    await c.login(USER, PASS);
    await fail('127.0.3.8', 3);
    await c.expectCmd('PWD', 257);
    await c.expectCmd(`USER ${USER}`, 331);
    c.send(`PASS ${PASS}`);
    await c.expect(530);
    await c.expect(421);
    expect(await c.waitClosed()).toBe(true);
  });
});

describe('bans on a dual-stack listener', () => {
  it('one ban per address, whether the peer shows as IPv4 or IPv4-mapped IPv6', async () => {
    // This listener sees its IPv4 peers as ::ffff:127.x.y.z; the ban table must key them as 127.x.y.z.
    await usingServer({
      host: '::ffff:127.0.0.1',
      limits: { loginFailureDelayMs: 1 },
      security: { ban: { failures: 2 } },
    }, async (t) => {
      for (let i = 0; i < 2; i++) {
        const c = await clientFrom(t.port, '127.0.3.9');
        await c.expectCmd(`USER ${USER}`, 331);
        await c.expectCmd('PASS wrong', 530);
        c.close();
      }
      expect(await receiveAll(t.port, '127.0.3.9')).toEqual({ text: BANNED, closed: true });
    });
  });
});

describe('ban expiry', () => {
  it('lets the address in again once the ban is over', async () => {
    await usingServer({
      limits: { loginFailureDelayMs: 1 },
      security: { ban: { failures: 2, windowMs: 60_000, durationMs: 1500 } },
    }, async (t) => {
      const c = await clientFrom(t.port, '127.0.4.1');
      await c.expectCmd(`USER ${USER}`, 331);
      await c.expectCmd('PASS wrong', 530);
      await c.expectCmd(`USER ${USER}`, 331);
      c.send('PASS wrong');
      await c.expect(530);
      await c.expect(421);
      expect((await receiveAll(t.port, '127.0.4.1')).text).toBe(BANNED);
      expect(await eventually(() => greeted(t.port, '127.0.4.1'))).toBe(true);
      const again = await clientFrom(t.port, '127.0.4.1');
      await again.login(USER, PASS);
      again.close();
    });
  });
});
