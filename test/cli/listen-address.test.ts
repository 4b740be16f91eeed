/**
 * HOST:PORT and MIN-MAX parsing: every documented form, and a clear error for each mistake.
 */
import { describe, expect, it } from 'vitest';
import { formatAddress, parseListenAddress, parseListenList, parsePortRange } from '../../src/config/listen-address.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:2121', '127.0.0.1', 2121],
    ['[::1]:2121', '::1', 2121],
    [':::2121', '::', 2121],
    ['[::]:21', '::', 21],
    ['0.0.0.0:21', '0.0.0.0', 21],
    ['localhost:2121', 'localhost', 2121],
    ['ftp.example.org:990', 'ftp.example.org', 990],
    [':2121', '::', 2121],
    ['*:2121', '::', 2121],
    ['2121', '::', 2121],
    ['127.0.0.1:0', '127.0.0.1', 0],
    ['[fe80::1%eth0]:21', 'fe80::1%eth0', 21],
    [' 10.0.0.1:65535 ', '10.0.0.1', 65535],
  ])('%s', (text, host, port) => {
    expect(parseListenAddress(text)).toEqual({ host, port });
  });

  it.each([
    ['127.0.0.1:65536', 'port must be <= 65535'],
    ['70000', 'port must be <= 65535'],
    ['127.0.0.1:', 'missing port'],
    ['127.0.0.1:ftp', 'port must be a number, not "ftp"'],
    ['127.0.0.1:-1', 'port must be a number, not "-1"'],
    ['127.0.0.1', '"127.0.0.1" has no port'],
    ['localhost', '"localhost" has no port'],
    ['', 'empty address'],
    ['256.1.1.1:21', '"256.1.1.1" is not an IPv4 address'],
    ['[::1:21', 'expected HOST:PORT'],
    ['[nonsense]:21', '"nonsense" is not an IPv6 address'],
    ['fe80:::1:21', 'is not an IPv6 address'],
    ['bad_host:21', '"bad_host" is not a host name or IP address'],
  ])('%s is refused', (text, message) => {
    expect(() => parseListenAddress(text)).toThrow(message);
  });

  it('lists: comma-separated, off or empty for none', () => {
    expect(parseListenList('127.0.0.1:21, [::1]:21')).toEqual([
      { host: '127.0.0.1', port: 21 },
      { host: '::1', port: 21 },
    ]);
    expect(parseListenList('off')).toEqual([]);
    expect(parseListenList('')).toEqual([]);
  });

  it('formats addresses back', () => {
    expect(formatAddress('::', 21)).toBe('[::]:21');
    expect(formatAddress('127.0.0.1', 21)).toBe('127.0.0.1:21');
  });
});

describe('parsePortRange', () => {
  it('accepts MIN-MAX', () => {
    expect(parsePortRange('50000-50100')).toEqual({ min: 50000, max: 50100 });
    expect(parsePortRange('2100 - 2100')).toEqual({ min: 2100, max: 2100 });
  });

  it.each([
    ['50000', 'expected MIN-MAX'],
    ['a-b', 'expected MIN-MAX'],
    ['0-10', 'port must be >= 1'],
    ['1-65536', 'port must be <= 65535'],
    ['6000-5000', 'range start 6000 is greater than its end 5000'],
  ])('%s is refused', (text, message) => {
    expect(() => parsePortRange(text)).toThrow(message);
  });
});
