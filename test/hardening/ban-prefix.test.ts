/**
 * Bans per network, not per address: one IPv6 client usually holds a whole /64, so failures are counted
 * and bans applied per `security.ban.ipv6Prefix` bits (64 by default) and `ipv4Prefix` (32). The table on
 * its own, then a real server behind a trusted PROXY protocol sender that speaks for many IPv6 addresses
 * of one /64 (::1 is the only IPv6 address on loopback).
 */
import { isIPv4 } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { banNetwork } from '../../src/auth/ban-network.js';
import { LoginThrottle } from '../../src/auth/throttle.js';
import { configSchema } from '../../src/config/schema.js';
import { formatV1 } from '../../src/proxy/proxy-protocol.js';
import { DEFAULT_BAN } from '../../src/settings.js';
import type { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { viaHeader } from '../ops/service-helpers.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';

describe('the network a ban covers', () => {
  const p = (ipv4Prefix: number, ipv6Prefix: number) => ({ ipv4Prefix, ipv6Prefix });

  it('IPv6 to its /64 by default, IPv4 (also IPv4-mapped) to the address itself', () => {
    const d = p(DEFAULT_BAN.ipv4Prefix, DEFAULT_BAN.ipv6Prefix);
    expect(banNetwork('2001:db8:1:2:aaaa:bbbb:cccc:dddd', d)).toBe('2001:db8:1:2::/64');
    expect(banNetwork('2001:DB8:1:2::9%eth0', d)).toBe('2001:db8:1:2::/64');
    expect(banNetwork('2001:db8:1:3::9', d)).toBe('2001:db8:1:3::/64');
    expect(banNetwork('192.0.2.7', d)).toBe('192.0.2.7');
    expect(banNetwork('::ffff:192.0.2.7', d)).toBe('192.0.2.7');
  });

  it('other lengths cut inside a group; full length is the address; a key is re-cut to new lengths', () => {
    expect(banNetwork('2001:db8:1:2ff:3::', p(32, 60))).toBe('2001:db8:1:2f0::/60');
    expect(banNetwork('2001:db8:1:2:3::', p(32, 48))).toBe('2001:db8:1::/48');
    expect(banNetwork('2001:db8::5', p(32, 128))).toBe('2001:db8::5');
    expect(banNetwork('10.1.255.7', p(20, 64))).toBe('10.1.240.0/20');
    expect(banNetwork('192.0.2.7', p(24, 64))).toBe('192.0.2.0/24');
    expect(banNetwork('2001:db8:1:2::/64', p(32, 48))).toBe('2001:db8:1::/48');
    expect(banNetwork('not-an-address', p(24, 48))).toBe('not-an-address');
  });
});

describe('LoginThrottle per network', () => {
  const policy = { ...DEFAULT_BAN, failures: 3, windowMs: 60_000, durationMs: 60_000 };

  it('failures from fresh addresses of one /64 add up and ban the whole /64, not its neighbours', () => {
    const th = new LoginThrottle(policy);
    expect(th.recordFailure('2001:db8:1:2::1')).toBeUndefined();
    expect(th.recordFailure('2001:db8:1:2::2')).toBeUndefined();
    expect(th.recordFailure('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBeDefined();
    expect(th.bannedUntil('2001:db8:1:2::abcd')).toBeDefined();
    expect(th.bannedUntil('2001:db8:1:3::1')).toBeUndefined();
    expect(th.size).toEqual({ failures: 0, bans: 1 });
    // IPv4 stays per address
    for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) expect(th.recordFailure(a)).toBeUndefined();
    th.unban('2001:db8:1:2::77'); // any address of the network lifts its ban
    expect(th.bannedUntil('2001:db8:1:2::1')).toBeUndefined();
  });

  it('a new policy with other prefix lengths moves bans and counts to the new networks', () => {
    const old = new LoginThrottle({ ...policy, ipv6Prefix: 128 });
    for (let i = 1; i <= 3; i++) old.recordFailure('2001:db8:1:2::1');
    old.recordFailure('2001:db8:1:3::1');
    old.recordFailure('2001:db8:1:3::2');
    const next = new LoginThrottle({ ...policy, ipv6Prefix: 48 });
    next.adopt(old);
    expect(next.bannedUntil('2001:db8:1:9::9')).toBeDefined(); // the ban now covers the /48
    const wider = new LoginThrottle({ ...policy, ipv6Prefix: 64 });
    wider.adopt(old);
    expect(wider.bannedUntil('2001:db8:1:3::5')).toBeUndefined();
    expect(wider.recordFailure('2001:db8:1:3::3')).toBeDefined(); // 2 carried over + this one
  });
});

describe('config: security.ban.ipv4Prefix and ipv6Prefix', () => {
  const issues = (ban: unknown) => {
    const r = configSchema.safeParse({ security: { ban } });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  it('accepts prefix lengths within the family, refuses others', () => {
    expect(issues({ ipv4Prefix: 24, ipv6Prefix: 56 })).toEqual([]);
    expect(issues({ ipv6Prefix: 129 })).toEqual(['security.ban.ipv6Prefix: must be <= 128']);
    expect(issues({ ipv4Prefix: 33 })).toEqual(['security.ban.ipv4Prefix: must be <= 32']);
    expect(issues({ ipv4Prefix: 0 })).toEqual(['security.ban.ipv4Prefix: must be >= 1']);
  });
});

describe('a server behind a trusted PROXY sender, many IPv6 addresses of one /64', () => {
  let t: TestServer;
  let log: CapturedLog;
  const clients: RawClient[] = [];
  const from = async (address: string, greeting = true) => {
    const destination = isIPv4(address) ? '127.0.0.1' : '::ffff:127.0.0.1';
    const header = formatV1({ address, port: 40000 + clients.length }, { address: destination, port: t.port });
    const c = await viaHeader(t.port, header, { greeting });
    clients.push(c);
    return c;
  };
  const fail = async (c: RawClient) => {
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS wrong', 530);
  };

  beforeAll(async () => {
    log = captureLog();
    t = await startServer({
      proxyProtocol: ['127.0.0.1/32'],
      logger: log.logger,
      security: { ban: { failures: 3 } },
      limits: { loginFailureDelayMs: 1 },
    });
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => t.close());

  it('one failed login from each of three fresh addresses bans the /64: a fourth address is refused at connect', async () => {
    for (const a of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2:1234:5678:9abc:def0']) await fail(await from(a));
    const refused = await from('2001:db8:1:2::c', false);
    await refused.expect(421, /^421 Too many failed logins from your address; try again later\.$/);
    const line = log.find('address banned after repeated failed logins').at(-1);
    expect(line).toMatchObject({ peer: '2001:db8:1:2:1234:5678:9abc:def0', network: '2001:db8:1:2::/64' });
    // the next /64 and IPv4 clients are not touched
    const neighbour = await from('2001:db8:1:3::a');
    await neighbour.login(USER, PASS);
    const v4 = await from('127.0.0.30');
    await v4.login(USER, PASS);
  });

  it('IPv4 addresses count one by one (ipv4Prefix 32)', async () => {
    for (const a of ['127.0.0.40', '127.0.0.41', '127.0.0.42']) await fail(await from(a));
    const next = await from('127.0.0.43');
    await next.login(USER, PASS);
  });
});
