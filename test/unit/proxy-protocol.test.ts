/**
 * The PROXY protocol parser: exact cases for v1 and v2, then properties (fixed seed; `npm run fuzz`
 * runs them harder): headers round-trip, any cut of a valid header is `incomplete` (never a wrong
 * answer), what follows a header is never consumed, and random or mutated bytes never throw, never
 * read past the bounds and never produce an address that is not one.
 */
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatV1,
  formatV2,
  looksLikeProxyHeader,
  MAX_HEADER_LENGTH,
  parseProxyHeader,
  V1_MAX_LENGTH,
  V2_MAX_PAYLOAD,
  V2_SIGNATURE,
  type ParseResult,
} from '../../src/proxy/proxy-protocol.js';
import { runs } from './fuzz-runs.js';

const RUNS = runs(500);
const b = (s: string) => Buffer.from(s, 'latin1');

function done(r: ParseResult) {
  if (r.status !== 'done') throw new Error(`expected a header, got ${JSON.stringify(r)}`);
  return r;
}

describe('PROXY protocol v1', () => {
  it('parses TCP4 and TCP6 headers and says where the header ends', () => {
    const r = done(parseProxyHeader(b('PROXY TCP4 192.0.2.1 198.51.100.2 56324 21\r\nUSER x\r\n')));
    expect(r.header).toEqual({
      kind: 'proxy',
      version: 1,
      family: 4,
      source: { address: '192.0.2.1', port: 56324 },
      destination: { address: '198.51.100.2', port: 21 },
    });
    expect(r.length).toBe('PROXY TCP4 192.0.2.1 198.51.100.2 56324 21\r\n'.length);
    const r6 = done(parseProxyHeader(b('PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n')));
    expect(r6.header).toMatchObject({ family: 6, source: { address: '2001:db8::1', port: 65535 }, destination: { port: 0 } });
  });

  it('PROXY UNKNOWN (with or without the rest of the line) means no address', () => {
    expect(done(parseProxyHeader(b('PROXY UNKNOWN\r\n'))).header).toEqual({ kind: 'unknown', version: 1 });
    expect(done(parseProxyHeader(b('PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n'))).header).toEqual({ kind: 'unknown', version: 1 });
  });

  it('waits for more bytes while the header may still be valid', () => {
    for (const part of ['P', 'PROXY', 'PROXY ', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r']) {
      expect(parseProxyHeader(b(part)).status, part).toBe('incomplete');
    }
  });

  it('refuses anything not exactly in the spec', () => {
    for (const text of [
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', // LF alone
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX',
      'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n',
      'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 ::1 5.6.7.8 1 2\r\n', // family mismatch
      'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
      'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', // zone id
      'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', // leading zero
      'PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n',
      'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n',
      'PROXY UNKNOWN\u00e9\r\n',
      'PROXY\r\n',
      'USER anonymous\r\n',
      '\u0016\u0003\u0001', // a TLS ClientHello
    ]) {
      expect(parseProxyHeader(b(text)).status, JSON.stringify(text)).toBe('invalid');
    }
  });

  it('refuses a header longer than 107 bytes, complete or not', () => {
    const longest = `PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 'PROXY UNKNOWN \r\n'.length)}\r\n`;
    expect(longest.length).toBe(V1_MAX_LENGTH);
    expect(parseProxyHeader(b(longest)).status).toBe('done');
    const tooLong = `PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 'PROXY UNKNOWN \r\n'.length + 1)}\r\n`;
    expect(parseProxyHeader(b(tooLong)).status).toBe('invalid');
    expect(parseProxyHeader(b(`PROXY UNKNOWN ${'x'.repeat(200)}`)).status).toBe('invalid');
    expect(parseProxyHeader(b(`PROXY UNKNOWN ${'x'.repeat(V1_MAX_LENGTH - 16)}\r`)).status).toBe('incomplete');
  });
});

describe('PROXY protocol v2', () => {
  const v4 = { source: { address: '192.0.2.1', port: 40000 }, destination: { address: '198.51.100.2', port: 990 } };
  const v6 = { source: { address: '2001:db8::5', port: 1 }, destination: { address: '::1', port: 21 } };

  it('parses PROXY over IPv4 and IPv6, with and without TLVs', () => {
    expect(done(parseProxyHeader(formatV2(v4))).header).toEqual({ kind: 'proxy', version: 2, family: 4, ...v4 });
    expect(done(parseProxyHeader(formatV2(v6))).header).toEqual({ kind: 'proxy', version: 2, family: 6, ...v6 });
    const tlvs = Buffer.from([0x04, 0x00, 0x00, 0x01, 0x00, 0x02, 0x68, 0x32]); // NOOP (empty), ALPN "h2"
    const header = formatV2(v4, tlvs);
    const r = done(parseProxyHeader(Buffer.concat([header, b('\u0016\u0003\u0001')])));
    expect(r.length).toBe(header.length);
  });

  it('LOCAL and AF_UNSPEC mean no address', () => {
    expect(done(parseProxyHeader(formatV2())).header).toEqual({ kind: 'unknown', version: 2 });
    const unspec = formatV2(v4);
    unspec[13] = 0x00;
    expect(done(parseProxyHeader(unspec)).header).toEqual({ kind: 'unknown', version: 2 });
  });

  it('refuses other versions, commands, families and transports', () => {
    const mutate = (at: number, value: number) => {
      const h = formatV2(v4);
      h[at] = value;
      return parseProxyHeader(h);
    };
    expect(mutate(12, 0x11).status).toBe('invalid'); // version 1 in a v2 header
    expect(mutate(12, 0x22).status).toBe('invalid'); // command 2
    expect(mutate(13, 0x12).status).toBe('invalid'); // UDP over IPv4
    expect(mutate(13, 0x22).status).toBe('invalid'); // UDP over IPv6
    expect(mutate(13, 0x31).status).toBe('invalid'); // AF_UNIX
    expect(mutate(13, 0x41).status).toBe('invalid');
    expect(mutate(3, 0x00).status).toBe('invalid'); // signature
  });

  it('refuses short address blocks, malformed TLVs and oversized payloads', () => {
    const short = formatV2(v6);
    short.writeUInt16BE(20, 14); // IPv6 needs 36 bytes
    expect(parseProxyHeader(short.subarray(0, 36)).status).toBe('invalid');
    expect(parseProxyHeader(formatV2(v4, Buffer.from([0x04, 0x00, 0x05, 0x00]))).status).toBe('invalid');
    expect(parseProxyHeader(formatV2(v4, Buffer.from([0x04, 0x00]))).status).toBe('invalid');
    const big = formatV2(v4);
    big.writeUInt16BE(V2_MAX_PAYLOAD + 1, 14);
    // Refused from the 16-byte header alone: no waiting for bytes that would exceed the bound.
    expect(parseProxyHeader(big.subarray(0, 16)).status).toBe('invalid');
    const max = formatV2(v4, Buffer.concat([Buffer.from([0x04]), Buffer.from([0x01, 0xf1]), Buffer.alloc(0x1f1)]));
    expect(max.length).toBe(MAX_HEADER_LENGTH);
    expect(parseProxyHeader(max).status).toBe('done');
  });

  it('waits for the rest of the signature, the header and the payload', () => {
    const h = formatV2(v6);
    for (const n of [1, 5, 12, 15, 16, 30, h.length - 1]) expect(parseProxyHeader(h.subarray(0, n)).status, String(n)).toBe('incomplete');
  });
});

describe('looksLikeProxyHeader', () => {
  it('tells a header from an FTP command or a TLS ClientHello by its first bytes', () => {
    expect(looksLikeProxyHeader(b('PROXY TCP4'))).toBe('yes');
    expect(looksLikeProxyHeader(V2_SIGNATURE)).toBe('yes');
    expect(looksLikeProxyHeader(b('PRO'))).toBe('maybe');
    expect(looksLikeProxyHeader(V2_SIGNATURE.subarray(0, 5))).toBe('maybe');
    expect(looksLikeProxyHeader(b('PROT P'))).toBe('no');
    expect(looksLikeProxyHeader(b('USER a'))).toBe('no');
    expect(looksLikeProxyHeader(b('\r\n'))).toBe('maybe');
    expect(looksLikeProxyHeader(b('\r\nQUIT'))).toBe('no');
    expect(looksLikeProxyHeader(b('\u0016\u0003\u0001'))).toBe('no');
  });
});

describe('properties', () => {
  const port = fc.integer({ min: 0, max: 65535 });
  const endpoints = fc.oneof(
    fc.record({ source: fc.record({ address: fc.ipV4(), port }), destination: fc.record({ address: fc.ipV4(), port }) }),
    fc.record({
      source: fc.record({ address: fc.ipV6().map(canonical6), port }),
      destination: fc.record({ address: fc.ipV6().map(canonical6), port }),
    }),
  );
  const tlvs = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })), { maxLength: 4 })
    .map((list) => Buffer.concat(list.map(([type, value]) => Buffer.concat([Buffer.from([type, value.length >> 8, value.length & 255]), Buffer.from(value)]))));
  const header = fc.oneof(
    endpoints.map((e) => ({ bytes: formatV1(e.source, e.destination), e, version: 1 })),
    fc.tuple(endpoints, tlvs).map(([e, t]) => ({ bytes: formatV2(e, t), e, version: 2 })),
  );

  it('every header round-trips, and what follows it is left alone', () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), ({ bytes, e, version }, rest) => {
        const r = done(parseProxyHeader(Buffer.concat([bytes, Buffer.from(rest)])));
        expect(r.length).toBe(bytes.length);
        expect(r.header).toEqual({ kind: 'proxy', version, family: isIP(e.source.address), ...e });
      }),
      RUNS,
    );
  });

  it('every cut of a valid header is incomplete, never a wrong answer', () => {
    fc.assert(
      fc.property(header, fc.nat(), ({ bytes }, at) => {
        const cut = at % bytes.length;
        expect(parseProxyHeader(bytes.subarray(0, cut)).status).toBe('incomplete');
      }),
      RUNS,
    );
  });

  it('random and mutated bytes never throw, and a result is always within bounds', () => {
    const mutated = fc
      .tuple(header, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([{ bytes }, edits]) => {
        const copy = Buffer.from(bytes);
        for (const [at, value] of edits) copy[at % copy.length] = value;
        return copy;
      });
    const random = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      fc.uint8Array({ maxLength: 120 }).map((a) => Buffer.concat([V2_SIGNATURE, Buffer.from(a)])),
      fc.string({ maxLength: 120 }).map((s) => b(`PROXY ${s}`)),
      mutated,
    );
    fc.assert(
      fc.property(random, (bytes) => {
        const r = parseProxyHeader(bytes);
        if (r.status === 'incomplete') {
          // More bytes are only ever asked for below the bound.
          expect(bytes.length).toBeLessThan(MAX_HEADER_LENGTH);
        } else if (r.status === 'done') {
          expect(r.length).toBeLessThanOrEqual(Math.min(bytes.length, MAX_HEADER_LENGTH));
          if (r.header.version === 1) expect(r.length).toBeLessThanOrEqual(V1_MAX_LENGTH);
          if (r.header.kind === 'proxy') {
            expect(isIP(r.header.source.address)).toBe(r.header.family);
            expect(isIP(r.header.destination.address)).toBe(r.header.family);
            for (const p of [r.header.source.port, r.header.destination.port]) expect(p >= 0 && p <= 65535).toBe(true);
          }
        } else {
          expect(r.reason.length).toBeGreaterThan(0);
        }
      }),
      runs(2000),
    );
  });
});

/** IPv6 as Node spells it (compressed, lower case), which is how the parser reports addresses. */
function canonical6(address: string): string {
  return new URL(`http://[${address}]`).hostname.slice(1, -1);
}
