/**
 * Allow and deny lists of networks, checked at accept: deny wins, an allow list admits only its
 * networks, IPv4-mapped IPv6 addresses count as IPv4 (peers and rules alike), IPv6 networks work.
 */
import { describe, expect, it } from 'vitest';
import { FtpServer } from '../../src/server.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import { AccessList, parseNetwork } from '../../src/security/access-list.js';
import { configSchema } from '../../src/config/schema.js';
import { PASS, USER, startServer } from '../helpers/server.js';
import { ipv6Available } from '../e2e/helpers.js';
import { clientFrom, receiveAll } from './abuse-helpers.js';
import { captureLog } from '../helpers/log-capture.js';
import { serverForBlock } from '../helpers/block-server.js';

const DENIED = '421 Access denied.\r\n';
const hasV6 = await ipv6Available();

describe('parseNetwork', () => {
  it('reads CIDR and single addresses, IPv4 and IPv6', () => {
    expect(parseNetwork('192.0.2.0/24')).toEqual({ address: '192.0.2.0', prefix: 24, family: 'ipv4' });
    expect(parseNetwork('192.0.2.7')).toEqual({ address: '192.0.2.7', prefix: 32, family: 'ipv4' });
    expect(parseNetwork('2001:db8::/32')).toEqual({ address: '2001:db8::', prefix: 32, family: 'ipv6' });
    expect(parseNetwork('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    expect(parseNetwork('0.0.0.0/0')).toEqual({ address: '0.0.0.0', prefix: 0, family: 'ipv4' });
  });

  it('turns IPv4-mapped IPv6 networks into IPv4 ones', () => {
    expect(parseNetwork('::ffff:10.0.0.0/104')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseNetwork('::ffff:192.0.2.1')).toEqual({ address: '192.0.2.1', prefix: 32, family: 'ipv4' });
  });

  it('refuses malformed networks with a plain message', () => {
    expect(() => parseNetwork('10.0.0.0/33')).toThrow(/prefix length must be a whole number from 0 to 32/);
    expect(() => parseNetwork('2001:db8::/129')).toThrow(/from 0 to 128/);
    expect(() => parseNetwork('10.0.0.0/')).toThrow(/prefix length/);
    expect(() => parseNetwork('10.0.0.0/8/8')).toThrow(/prefix length/);
    expect(() => parseNetwork('example.com')).toThrow(/not a network/);
    expect(() => parseNetwork('300.1.1.1')).toThrow(/not a network/);
    expect(() => parseNetwork('')).toThrow(/not a network/);
  });
});

describe('AccessList', () => {
  it('deny wins over allow; an allow list admits only its networks', () => {
    const list = new AccessList(['10.0.0.0/8', '2001:db8::/32'], ['10.1.0.0/16', '2001:db8:bad::/48']);
    expect(list.allows('10.2.3.4')).toBe(true);
    expect(list.allows('10.1.3.4')).toBe(false);
    expect(list.allows('192.0.2.1')).toBe(false);
    expect(list.allows('2001:db8:1::1')).toBe(true);
    expect(list.allows('2001:db8:bad::1')).toBe(false);
    expect(list.allows('2001:db9::1')).toBe(false);
  });

  it('normalizes IPv4-mapped peers, zone ids and spellings', () => {
    const list = new AccessList([], ['192.0.2.0/24', 'fe80::/10', '2001:db8::1']);
    expect(list.allows('::ffff:192.0.2.5')).toBe(false);
    expect(list.allows('::FFFF:c000:0205')).toBe(false);
    expect(list.allows('::ffff:198.51.100.1')).toBe(true);
    expect(list.allows('fe80::1%eth0')).toBe(false);
    expect(list.allows('2001:0db8:0000:0000:0000:0000:0000:0001')).toBe(false);
    expect(list.allows('2001:db8::2')).toBe(true);
  });

  it('an empty allow list admits everyone; a garbage peer address is refused', () => {
    const list = new AccessList([], []);
    expect(list.allows('203.0.113.9')).toBe(true);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('not-an-address')).toBe(false);
  });

  it('a malformed network stops the server from starting', () => {
    const make = (deny: string[]) => () =>
      new FtpServer({ authenticator: new UserAuthenticator([]), tlsRequired: 'off', security: { deny } });
    expect(make(['10.0.0.0/40'])).toThrow(/prefix length/);
    expect(make(['10.0.0.0/8'])).not.toThrow();
  });

  it('the config file checks networks', () => {
    const bad = configSchema.safeParse({ security: { allow: ['10.0.0.0/8', 'nope'] } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['security', 'allow', 1]);
    const good = configSchema.safeParse({ security: { allow: '10.0.0.0/8', deny: ['::ffff:10.9.0.0/112'] } });
    expect(good.success && good.data.security).toEqual({ allow: ['10.0.0.0/8'], deny: ['::ffff:10.9.0.0/112'] });
  });
});

describe('access lists at accept', () => {
  const log = captureLog();
  const t = serverForBlock({
    implicit: true,
    logger: log.logger,
    security: { allow: ['127.0.6.0/24', '127.0.0.1'], deny: ['127.0.6.128/25', '127.0.6.7'] },
  });

  it('admits an allowed address', async () => {
    const c = await clientFrom(t.port, '127.0.6.1');
    await c.login(USER, PASS);
    c.close();
  });

  it('refuses a denied address with 421 before the greeting, and logs it with the address', async () => {
    expect(await receiveAll(t.port, '127.0.6.7')).toEqual({ text: DENIED, closed: true });
    expect(await receiveAll(t.port, '127.0.6.200')).toEqual({ text: DENIED, closed: true });
    expect(log.lines().some((l) => l.msg === 'connection refused' && l.peer === '127.0.6.7' && l.reason === 'denied')).toBe(true);
  });

  it('refuses an address outside the allow list', async () => {
    expect(await receiveAll(t.port, '127.0.7.1')).toEqual({ text: DENIED, closed: true });
  });

  it('refuses on the implicit listener by closing, without a byte', async () => {
    expect(await receiveAll(t.implicitPort!, '127.0.6.7')).toEqual({ text: '', closed: true });
    expect(await receiveAll(t.implicitPort!, '127.0.7.1')).toEqual({ text: '', closed: true });
    // An allowed address gets its TLS handshake (the server waits for the ClientHello).
    expect((await receiveAll(t.implicitPort!, '127.0.6.2', { timeoutMs: 300 })).closed).toBe(false);
  });
});

describe('IPv4-mapped peers on a dual-stack socket', () => {
  // A listener on the IPv4-mapped loopback sees its IPv4 peers as ::ffff:127.x.y.z.
  const t = serverForBlock({ host: '::ffff:127.0.0.1', security: { deny: ['127.0.8.1'], allow: ['::ffff:127.0.8.0/120'] } });

  it('matches IPv4 rules against ::ffff: peers, and ::ffff: rules against IPv4', async () => {
    expect(await receiveAll(t.port, '127.0.8.1')).toEqual({ text: DENIED, closed: true });
    expect(await receiveAll(t.port, '127.0.9.1')).toEqual({ text: DENIED, closed: true });
    const c = await clientFrom(t.port, '127.0.8.2');
    await c.login(USER, PASS);
    c.close();
  });
});

describe.skipIf(!hasV6)('IPv6 networks', () => {
  it('denies ::1/128 and admits it when only allowed', async () => {
    const denied = await startServer({ host: '::1', security: { deny: ['::1/128'] } });
    const allowed = await startServer({ host: '::1', security: { allow: ['::1'], deny: ['2001:db8::/32'] } });
    try {
      expect(await receiveAll(denied.port, '::1', { host: '::1' })).toEqual({ text: DENIED, closed: true });
      const c = await clientFrom(allowed.port, '::1', '::1');
      await c.login(USER, PASS);
      c.close();
    } finally {
      await denied.close();
      await allowed.close();
    }
  });
});
