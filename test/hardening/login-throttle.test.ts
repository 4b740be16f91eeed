/**
 * The ban table (LoginThrottle) on its own: counting failures in a window, ban and expiry, bounded
 * memory; and the defaults a server starts with (bans and login limits are on).
 */
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/auth/throttle.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import { DEFAULT_BAN, DEFAULT_LIMITS } from '../../src/settings.js';
import { PASS, USER, usingServer } from '../helpers/server.js';
import { BANNED, clientFrom, receiveAll, timed } from './abuse-helpers.js';

describe('LoginThrottle', () => {
  const policy = { failures: 3, windowMs: 1000, durationMs: 5000, maxEntries: 100, ipv4Prefix: 32, ipv6Prefix: 64 };
  function clock() {
    let now = 1_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  }

  it('bans at the Nth failure within the window, until the ban expires', () => {
    const c = clock();
    const th = new LoginThrottle(policy, c.now);
    expect(th.recordFailure('192.0.2.1')).toBeUndefined();
    expect(th.recordFailure('192.0.2.1')).toBeUndefined();
    expect(th.bannedUntil('192.0.2.1')).toBeUndefined();
    expect(th.recordFailure('192.0.2.1')).toBe(c.now() + 5000);
    expect(th.bannedUntil('192.0.2.1')).toBe(c.now() + 5000);
    // Failures during the ban do not extend it.
    c.advance(4000);
    expect(th.recordFailure('192.0.2.1')).toBeUndefined();
    c.advance(999);
    expect(th.bannedUntil('192.0.2.1')).toBeDefined();
    c.advance(1);
    expect(th.bannedUntil('192.0.2.1')).toBeUndefined();
    expect(th.size.bans).toBe(0);
  });

  it('forgets failures older than the window (sliding)', () => {
    const c = clock();
    const th = new LoginThrottle(policy, c.now);
    th.recordFailure('192.0.2.2');
    c.advance(600);
    th.recordFailure('192.0.2.2');
    c.advance(600); // the first failure left the window
    expect(th.recordFailure('192.0.2.2')).toBeUndefined();
    c.advance(100);
    expect(th.recordFailure('192.0.2.2')).toBeDefined();
  });

  it('keeps at most maxEntries counters and bans; spraying failures never evicts a ban', () => {
    const c = clock();
    const th = new LoginThrottle({ ...policy, failures: 2, maxEntries: 10 }, c.now);
    for (let i = 0; i < 2; i++) th.recordFailure('2001:db8::bad');
    expect(th.bannedUntil('2001:db8::bad')).toBeDefined();
    for (let i = 0; i < 1000; i++) th.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    expect(th.size.failures).toBeLessThanOrEqual(10);
    expect(th.bannedUntil('2001:db8::bad')).toBeDefined();
    for (let i = 0; i < 50; i++) {
      th.recordFailure(`10.1.0.${i}`);
      th.recordFailure(`10.1.0.${i}`);
    }
    expect(th.size.bans).toBeLessThanOrEqual(10);
    // The oldest ban went first.
    expect(th.bannedUntil('2001:db8::bad')).toBeUndefined();
    expect(th.bannedUntil('10.1.0.49')).toBeDefined();
  });

  it('sweeps expired entries as new failures arrive', () => {
    const c = clock();
    const th = new LoginThrottle(policy, c.now);
    for (let i = 0; i < 50; i++) th.recordFailure(`10.2.0.${i}`);
    for (let i = 0; i < 3; i++) th.recordFailure('10.3.0.1');
    expect(th.size).toEqual({ failures: 50, bans: 1 });
    c.advance(10_000);
    th.recordFailure('10.4.0.1');
    expect(th.size).toEqual({ failures: 1, bans: 0 });
  });

  it('unban lifts a ban', () => {
    const th = new LoginThrottle({ ...policy, failures: 1 });
    th.recordFailure('192.0.2.9');
    expect(th.bannedUntil('192.0.2.9')).toBeDefined();
    th.unban('192.0.2.9');
    expect(th.bannedUntil('192.0.2.9')).toBeUndefined();
  });

  it('defaults: 10 failures in 10 minutes ban for an hour (an IPv4 address, an IPv6 /64); 1 s failure delay; 5 failures per connection', () => {
    expect(DEFAULT_BAN).toEqual({ failures: 10, windowMs: 600_000, durationMs: 3_600_000, maxEntries: 10_000, ipv4Prefix: 32, ipv6Prefix: 64 });
    expect(DEFAULT_LIMITS.loginFailureDelayMs).toBe(1000);
    expect(DEFAULT_LIMITS.maxLoginFailures).toBe(5);
  });
});

describe('defaults are on', () => {
  it('a server without security options bans after 10 failures', async () => {
    await usingServer({ limits: { loginFailureDelayMs: 1 } }, async (t) => {
      for (let i = 0; i < 2; i++) {
        const c = await clientFrom(t.port, '127.0.5.1');
        for (let j = 0; j < 5; j++) {
          await c.expectCmd(`USER ${USER}`, 331);
          c.send('PASS wrong');
          await c.expect(530);
        }
        await c.expect(421);
        c.close();
      }
      expect((await receiveAll(t.port, '127.0.5.1')).text).toBe(BANNED);
    });
  });

  it('UserAuthenticator still verifies a dummy hash for unknown users', async () => {
    // The unknown-user path must cost an argon2 verify, like a wrong password of a hashed account.
    const auth = new UserAuthenticator([]);
    const ms = await timed(() => auth.login({ user: 'nobody', password: 'x', remoteAddress: '127.0.0.1', secure: false }));
    expect(ms).toBeGreaterThan(1);
  });
});
