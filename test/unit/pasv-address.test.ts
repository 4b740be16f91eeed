/**
 * The PASV address rules (first match by client network), host names resolved with a short cache and
 * a fallback, the port mapping, and which addresses count as public.
 */
import { describe, expect, it } from 'vitest';
import { advertisedPort, checkAdvertisedPorts, checkPasvAddress, isPublicAddress, PasvAddresses } from '../../src/security/pasv-address.js';
import { parsePasvAddressText } from '../../src/config/service-schema.js';

describe('PasvAddresses', () => {
  it('first matching rule wins; a rule without network matches everyone; no match: undefined', async () => {
    const p = new PasvAddresses([
      { network: '10.0.0.0/8', address: '10.1.2.3' },
      { network: '192.168.0.0/16', address: '192.168.1.1' },
      { address: '203.0.113.7' },
    ]);
    expect(await p.addressFor('10.9.9.9')).toEqual({ address: '10.1.2.3' });
    expect(await p.addressFor('::ffff:192.168.5.5')).toEqual({ address: '192.168.1.1' });
    expect(await p.addressFor('198.51.100.1')).toEqual({ address: '203.0.113.7' });
    const lan = new PasvAddresses([{ network: '10.0.0.0/8', address: '10.1.2.3' }]);
    expect(await lan.addressFor('198.51.100.1')).toEqual({ address: undefined });
    expect(lan.matches('198.51.100.1')).toBe(false);
    expect(lan.matches('2001:db8::1')).toBe(false);
    expect(new PasvAddresses('203.0.113.7').matches('2001:db8::1')).toBe(true);
  });

  it('resolves host names when asked, caches them, keeps the last good answer on failure', async () => {
    let now = 0;
    let calls = 0;
    let answer: string | Error = '198.51.100.10';
    const p = new PasvAddresses([{ address: 'ftp.example.test' }], {
      now: () => now,
      cacheMs: 30_000,
      retryMs: 5_000,
      lookup: async () => {
        calls++;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    });
    expect(calls).toBe(0); // nothing is resolved before a PASV needs it
    const [a, b] = await Promise.all([p.addressFor('192.0.2.1'), p.addressFor('192.0.2.2')]);
    expect([a, b]).toEqual([{ address: '198.51.100.10' }, { address: '198.51.100.10' }]);
    expect(calls).toBe(1); // one lookup for both
    now = 29_000;
    await p.addressFor('192.0.2.1');
    expect(calls).toBe(1);
    now = 31_000;
    answer = '198.51.100.11';
    expect(await p.addressFor('192.0.2.1')).toEqual({ address: '198.51.100.11' });
    expect(calls).toBe(2);
    now = 62_000;
    answer = new Error('SERVFAIL');
    const failed = await p.addressFor('192.0.2.1');
    expect(failed.address).toBe('198.51.100.11'); // stale but known
    expect(failed.error).toMatch(/cannot resolve ftp\.example\.test: SERVFAIL/);
    // Not asked again for a while, and the failure is reported once.
    expect(await p.addressFor('192.0.2.1')).toEqual({ address: '198.51.100.11' });
    expect(calls).toBe(3);
  });

  it('a name that never resolved gives no address (the caller uses its own), and times out', async () => {
    const p = new PasvAddresses('ftp.example.test', { lookup: () => new Promise(() => {}), lookupTimeoutMs: 50 });
    const r = await p.addressFor('192.0.2.1');
    expect(r.address).toBeUndefined();
    expect(r.error).toMatch(/no answer in 50 ms/);
  });

  it('refuses IPv6 and malformed addresses and networks', () => {
    expect(() => new PasvAddresses('2001:db8::1')).toThrow(/IPv6/);
    expect(() => new PasvAddresses('1.2.3')).toThrow(/not an IPv4 address or a host name/);
    expect(() => new PasvAddresses('bad_name!')).toThrow(/not an IPv4 address or a host name/);
    expect(() => new PasvAddresses([{ network: '10.0.0.0/99', address: '10.0.0.1' }])).toThrow(/prefix length/);
    expect(() => checkPasvAddress('ftp.example.com')).not.toThrow();
  });
});

describe('the one-line form (flags, environment)', () => {
  it('a single address stays a string; NETWORK=ADDRESS items become rules', () => {
    expect(parsePasvAddressText('203.0.113.7')).toBe('203.0.113.7');
    expect(parsePasvAddressText('ftp.example.com')).toBe('ftp.example.com');
    expect(parsePasvAddressText('10.0.0.0/8=10.1.2.3, 203.0.113.7')).toEqual([
      { network: '10.0.0.0/8', address: '10.1.2.3' },
      { address: '203.0.113.7' },
    ]);
    expect(() => parsePasvAddressText('203.0.113.7,10.0.0.0/8=10.1.2.3')).toThrow(/must come last/);
    expect(() => parsePasvAddressText('10.0.0.0/8=10.1.2.3,,1.2.3.4')).toThrow(/empty rule/);
  });
});

describe('port mapping', () => {
  it('keeps the offset', () => {
    expect(advertisedPort(50_007, { min: 50_000, max: 50_099 }, { min: 30_000, max: 30_099 })).toBe(30_007);
    expect(advertisedPort(50_007, { min: 50_000, max: 50_099 }, undefined)).toBe(50_007);
    expect(() => checkAdvertisedPorts(undefined, { min: 1, max: 2 })).toThrow(/needs pasvPorts/);
    expect(() => checkAdvertisedPorts({ min: 1, max: 3 }, { min: 10, max: 11 })).toThrow(/as many ports as pasvPorts \(3\)/);
  });
});

describe('isPublicAddress', () => {
  it('private, loopback, link-local, CGNAT, ULA and unspecified are not public', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '127.0.0.1', '169.254.1.1', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
    for (const a of ['203.0.113.7', '8.8.8.8', '2001:db8::1', '::ffff:8.8.8.8', '172.32.0.1']) expect(isPublicAddress(a), a).toBe(true);
  });
});
