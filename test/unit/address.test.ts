import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatEpsv, formatPasv, normalizeAddress, parseEprt, parseEpsv, parsePort, sameHost } from '../../src/base/address.js';
import { runs } from './fuzz-runs.js';

const RUNS = runs(500);

describe('parsePort', () => {
  it('parses h1,h2,h3,h4,p1,p2', () => {
    expect(parsePort('127,0,0,1,4,1')).toEqual({ host: '127.0.0.1', port: 1025 });
    expect(parsePort(' 10,0,0,2,0,21 ')).toEqual({ host: '10.0.0.2', port: 21 });
    expect(parsePort('192,168,001,010,255,255')).toEqual({ host: '192.168.1.10', port: 65535 });
    expect(parsePort('1, 2, 3, 4, 5, 6')).toEqual({ host: '1.2.3.4', port: 1286 });
  });

  it('rejects malformed input', () => {
    for (const arg of [
      '',
      '127,0,0,1,4',
      '127,0,0,1,4,1,1',
      '256,0,0,1,4,1',
      '127,0,0,1,4,256',
      '127,0,0,1,0,0', // port 0
      '127,0,0,-1,4,1',
      '127,0,0,1,4,1a',
      '127,0,0,1,4,',
      '127.0.0.1,4,1',
      '0x7f,0,0,1,4,1',
      '1e2,0,0,1,4,1',
      '1234,0,0,1,4,1',
      '127,0,0,1,4,1\0',
    ]) {
      expect(parsePort(arg), arg).toBeUndefined();
    }
  });

  it('round-trips with formatPasv', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (host, port) => {
        const text = formatPasv(host, port);
        const inner = /\(([^)]*)\)/.exec(text)![1]!;
        expect(parsePort(inner)).toEqual({ host, port });
        expect(text).toMatch(/^Entering Passive Mode \(\d{1,3}(,\d{1,3}){5}\)\.$/);
      }),
      RUNS,
    );
  });

  it('never throws on any input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.integer({ min: -5, max: 300 }), { maxLength: 8 }).map((a) => a.join(','))), (arg) => {
        const r = parsePort(arg);
        if (r) {
          expect(r.port).toBeGreaterThan(0);
          expect(r.port).toBeLessThanOrEqual(65535);
          expect(r.host).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
        }
      }),
      RUNS,
    );
  });
});

describe('parseEprt', () => {
  it('parses IPv4 and IPv6 with any delimiter', () => {
    expect(parseEprt('|1|132.235.1.2|6275|')).toEqual({ host: '132.235.1.2', port: 6275, family: 4 });
    expect(parseEprt('|2|::1|6275|')).toEqual({ host: '::1', port: 6275, family: 6 });
    expect(parseEprt('!2!1080::8:800:200C:417A!5282!')).toEqual({ host: '1080::8:800:200C:417A', port: 5282, family: 6 });
    expect(parseEprt(' #1#10.0.0.1#21# ')).toEqual({ host: '10.0.0.1', port: 21, family: 4 });
  });

  it('rejects malformed input', () => {
    for (const arg of [
      '',
      '|1|132.235.1.2|6275',
      '|1|132.235.1.2|6275||',
      '|3|132.235.1.2|6275|',
      '|1|::1|6275|', // family mismatch
      '|2|132.235.1.2|6275|',
      '|1|132.235.1.2|0|',
      '|1|132.235.1.2|65536|',
      '|1|132.235.1.2|123456|',
      '|1|132.235.1.2|-1|',
      '|1|132.235.1.2| 21|',
      '|1|localhost|21|',
      '|1|1.2.3|21|',
      ' 1 1.2.3.4 21 ', // space is not a printable delimiter after trim
      '\x7f1\x7f1.2.3.4\x7f21\x7f',
    ]) {
      expect(parseEprt(arg), arg).toBeUndefined();
    }
  });

  it('round-trips generated addresses', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4().map((h) => [1, h] as const), fc.ipV6().map((h) => [2, h] as const)),
        fc.integer({ min: 1, max: 65535 }),
        fc.constantFrom('|', '!', '#', '$'),
        ([proto, host], port, d) => {
          expect(parseEprt(`${d}${proto}${d}${host}${d}${port}${d}`)).toEqual({ host, port, family: proto === 1 ? 4 : 6 });
        },
      ),
      RUNS,
    );
  });

  it('never throws on any input', () => {
    const structured = fc
      .tuple(fc.constantFrom('|', '!', ' ', '1', ''), fc.string({ unit: 'binary', maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 20 }), fc.string({ maxLength: 6 }))
      .map(([d, a, b, c]) => `${d}${a}${d}${b}${d}${c}${d}`);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), structured), (arg) => {
        parseEprt(arg);
      }),
      RUNS,
    );
  });
});

describe('parseEpsv', () => {
  it('knows no argument, 1, 2 and ALL', () => {
    expect(parseEpsv('')).toEqual({ kind: 'any' });
    expect(parseEpsv('  ')).toEqual({ kind: 'any' });
    expect(parseEpsv('ALL')).toEqual({ kind: 'all' });
    expect(parseEpsv('all')).toEqual({ kind: 'all' });
    expect(parseEpsv('1')).toEqual({ kind: 'family', family: 4 });
    expect(parseEpsv('2')).toEqual({ kind: 'family', family: 6 });
    for (const arg of ['3', '0', '12', 'ALLX', '|1|', '-1']) expect(parseEpsv(arg), arg).toBeUndefined();
  });

  it('never throws', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (arg) => void parseEpsv(arg)), RUNS);
  });

  it('formatEpsv', () => {
    expect(formatEpsv(50000)).toBe('Entering Extended Passive Mode (|||50000|).');
  });
});

describe('normalizeAddress and sameHost', () => {
  it('normalises IPv4-mapped IPv6, IPv6 spellings, case and zone ids', () => {
    expect(normalizeAddress('127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeAddress('::FFFF:7f00:1')).toBe('127.0.0.1');
    expect(normalizeAddress('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(normalizeAddress('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normalizeAddress('fe80::1%eth0')).toBe('fe80::1');
    expect(normalizeAddress('Example.COM')).toBe('example.com');
    expect(normalizeAddress(undefined)).toBe('');
    expect(normalizeAddress('')).toBe('');
  });

  it('sameHost compares canonical forms and never matches empty', () => {
    expect(sameHost('127.0.0.1', '::ffff:127.0.0.1')).toBe(true);
    expect(sameHost('::1', '0:0:0:0:0:0:0:1')).toBe(true);
    expect(sameHost('::1', '127.0.0.1')).toBe(false);
    expect(sameHost('10.0.0.1', '10.0.0.2')).toBe(false);
    expect(sameHost(undefined, undefined)).toBe(false);
    expect(sameHost('', '')).toBe(false);
    expect(sameHost(undefined, '')).toBe(false);
  });

  it('property: a v4 address equals its mapped forms', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        expect(sameHost(v4, `::ffff:${v4}`)).toBe(true);
        expect(sameHost(v4, `::FFFF:${hex}`)).toBe(true);
        expect(sameHost(v4, `0:0:0:0:0:ffff:${v4}`)).toBe(true);
      }),
      RUNS,
    );
  });

  it('property: never throws, idempotent, and an address is its own host', () => {
    const addr = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV6().map((a) => `${a}%eth0`), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.constantFrom('0', 'f', ':', '.', '1', '%', '[', ']'), maxLength: 30 }));
    fc.assert(
      fc.property(addr, (a) => {
        const n = normalizeAddress(a);
        expect(normalizeAddress(n)).toBe(n);
        if (n !== '') expect(sameHost(a, a)).toBe(true);
      }),
      RUNS,
    );
  });
});
