import fc from 'fast-check';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { MAX_PEEK_BYTES, offersTls12, peekClientHello, TLS1_2, TLS1_3 } from '../../src/tls/client-hello.js';
import { testCert } from '../helpers/server.js';
import { runs } from './fuzz-runs.js';
import { chunked, splitPoints } from './split.js';

interface HelloSpec {
  legacyVersion: number;
  sessionId: Buffer;
  suites: number[];
  /** In order; `undefined` data for psk means "no psk". */
  extensions: { type: number; data: Buffer }[];
  withExtensions: boolean;
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 255]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 255, n & 255]);
const vec1 = (b: Buffer) => Buffer.concat([Buffer.from([b.length]), b]);
const vec2 = (b: Buffer) => Buffer.concat([u16(b.length), b]);

function encodeHello(h: HelloSpec): Buffer {
  const body = Buffer.concat([
    u16(h.legacyVersion),
    Buffer.alloc(32, 7),
    vec1(h.sessionId),
    vec2(Buffer.concat(h.suites.map(u16))),
    vec1(Buffer.from([0])),
    ...(h.withExtensions ? [vec2(Buffer.concat(h.extensions.map((e) => Buffer.concat([u16(e.type), vec2(e.data)]))))] : []),
  ]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

/** The handshake message in TLS records, cut at `cuts` (each record non-empty). */
function inRecords(message: Buffer, cuts: number[]): Buffer {
  const points = [...new Set(cuts.map((c) => 1 + (c % Math.max(1, message.length - 1))))].sort((a, b) => a - b).slice(0, 60);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, message.length]) {
    if (p <= prev) continue;
    const frag = message.subarray(prev, p);
    out.push(Buffer.from([22, 3, 1]), u16(frag.length), frag);
    prev = p;
  }
  return Buffer.concat(out);
}

const helloArb = fc
  .record({
    legacyVersion: fc.constantFrom(0x0301, 0x0302, 0x0303),
    sessionId: fc.uint8Array({ maxLength: 32 }).map((a) => Buffer.from(a)),
    suites: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 40 }),
    versions: fc.option(fc.array(fc.constantFrom(0x0301, 0x0302, TLS1_2, TLS1_3, 0x7f1c, 0x0a0a), { minLength: 1, maxLength: 6 })),
    ticket: fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))),
    psk: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a))),
    others: fc.uniqueArray(
      fc.record({ type: fc.integer({ min: 0, max: 0xffff }).filter((t) => t !== 35 && t !== 41 && t !== 43), data: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) }),
      { selector: (e) => e.type, maxLength: 12 },
    ),
    withExtensions: fc.boolean(),
  })
  .map((r) => {
    const extensions = [...r.others];
    if (r.versions) extensions.push({ type: 43, data: vec1(Buffer.concat(r.versions.map(u16))) });
    if (r.ticket) extensions.push({ type: 35, data: r.ticket });
    if (r.psk) extensions.push({ type: 41, data: r.psk }); // always last
    const spec: HelloSpec = { legacyVersion: r.legacyVersion, sessionId: r.sessionId, suites: r.suites, extensions, withExtensions: r.withExtensions };
    const expected = {
      versions: r.withExtensions && r.versions ? r.versions : [r.legacyVersion],
      sessionId: r.sessionId,
      psk: r.withExtensions && r.psk !== null,
      ticket: r.withExtensions && r.ticket !== null && r.ticket.length > 0,
    };
    return { spec, expected };
  });

describe('peekClientHello: generated hellos', () => {
  it('reads every field back, whatever the record fragmentation', () => {
    fc.assert(
      fc.property(helloArb, fc.array(fc.nat(), { maxLength: 8 }), ({ spec, expected }, cuts) => {
        const wire = inRecords(encodeHello(spec), cuts);
        expect(peekClientHello(wire)).toEqual({ kind: 'hello', hello: expected });
        // Bytes after the hello (the next flight, garbage) change nothing.
        expect(peekClientHello(Buffer.concat([wire, Buffer.from('trailing')]))).toEqual({ kind: 'hello', hello: expected });
      }),
      runs(300),
    );
  });

  it('every strict prefix is incomplete', () => {
    fc.assert(
      fc.property(helloArb, fc.array(fc.nat(), { maxLength: 4 }), fc.nat(), ({ spec }, cuts, at) => {
        const wire = inRecords(encodeHello(spec), cuts);
        expect(peekClientHello(wire.subarray(0, at % wire.length))).toEqual({ kind: 'incomplete' });
      }),
      runs(300),
    );
  });

  it('never throws on mutated hellos or random bytes, and answers within MAX_PEEK_BYTES', () => {
    const mutated = fc
      .tuple(helloArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat())
      .map(([{ spec }, flips, cut]) => {
        const wire = Buffer.from(inRecords(encodeHello(spec), [cut]));
        for (const [i, b] of flips) wire[i % wire.length] = b;
        return wire;
      });
    const random = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a));
    const headed = fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.concat([Buffer.from([22, 3, 1, a.length >> 8, a.length & 255, 1]), Buffer.from(a)]));
    fc.assert(
      fc.property(fc.oneof(mutated, random, headed), (buf) => {
        const r = peekClientHello(buf);
        expect(['incomplete', 'hello', 'other']).toContain(r.kind);
        if (r.kind === 'hello') {
          expect(r.hello.sessionId.length).toBeLessThanOrEqual(32);
          expect(r.hello.versions.length).toBeGreaterThan(0);
        }
        if (buf.length >= MAX_PEEK_BYTES) expect(r.kind).not.toBe('incomplete');
      }),
      runs(1000),
    );
  });

  it('split-packet: fed in random pieces, the answer is incomplete until the last piece arrives', () => {
    fc.assert(
      fc.property(helloArb, splitPoints(), ({ spec, expected }, cuts) => {
        const wire = inRecords(encodeHello(spec), []);
        let seen = Buffer.alloc(0);
        for (const piece of chunked(wire, cuts)) {
          seen = Buffer.concat([seen, piece]);
          const r = peekClientHello(seen);
          if (seen.length < wire.length) expect(r.kind).toBe('incomplete');
          else expect(r).toEqual({ kind: 'hello', hello: expected });
        }
      }),
      runs(200),
    );
  });
});

describe('peekClientHello: bounds and malformed input', () => {
  const hello = encodeHello({ legacyVersion: TLS1_2, sessionId: Buffer.alloc(0), suites: [0x1301], extensions: [], withExtensions: true });

  it('is not a hello: other record types, SSLv2, other handshake messages, empty records', () => {
    expect(peekClientHello(Buffer.from('USER alice\r\n'))).toMatchObject({ kind: 'other' });
    expect(peekClientHello(Buffer.from([0x80, 0x2e, 0x01, 0x00, 0x02]))).toMatchObject({ kind: 'other' });
    expect(peekClientHello(Buffer.from([23, 3, 3, 0, 1, 0]))).toMatchObject({ kind: 'other' });
    expect(peekClientHello(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0]))).toMatchObject({ kind: 'other', reason: 'not a ClientHello' });
    expect(peekClientHello(Buffer.from([22, 3, 1, 0, 0]))).toMatchObject({ kind: 'other' });
    expect(peekClientHello(Buffer.from([22, 9, 1, 0, 4, 1, 0, 0, 0]))).toMatchObject({ kind: 'other' });
  });

  it('refuses oversized records and messages at once, without waiting for them', () => {
    expect(peekClientHello(Buffer.from([22, 3, 1, 0xff, 0xff]))).toMatchObject({ kind: 'other', reason: 'bad record length' });
    expect(peekClientHello(Buffer.from([22, 3, 1, 0, 4, 1, 0x10, 0, 0]))).toMatchObject({ kind: 'other', reason: 'ClientHello too large' });
  });

  it('gives up after 64 records', () => {
    const head = Buffer.from([22, 3, 1, 0, 4, 1, 0, 0, 200]); // a 200-byte ClientHello follows...
    const tiny = Buffer.concat([head, ...Array.from({ length: 70 }, () => Buffer.from([22, 3, 1, 0, 1, 0]))]); // ...1 byte a record
    expect(peekClientHello(tiny)).toMatchObject({ kind: 'other', reason: 'too many records' });
  });

  it('a record of another type in the middle of the hello ends it', () => {
    const two = inRecords(hello, [3]);
    const broken = Buffer.concat([two.subarray(0, 8), Buffer.from([23, 3, 3, 0, 1, 0]), two.subarray(8)]);
    expect(peekClientHello(broken)).toMatchObject({ kind: 'other', reason: 'handshake interrupted' });
  });

  it('duplicate extensions, a psk that is not last, and bad lengths are malformed', () => {
    const make = (extensions: { type: number; data: Buffer }[]) =>
      peekClientHello(inRecords(encodeHello({ legacyVersion: TLS1_2, sessionId: Buffer.alloc(0), suites: [1], extensions, withExtensions: true }), []));
    expect(make([{ type: 5, data: Buffer.alloc(0) }, { type: 5, data: Buffer.alloc(0) }])).toMatchObject({ kind: 'other' });
    expect(make([{ type: 41, data: Buffer.alloc(3) }, { type: 5, data: Buffer.alloc(0) }])).toMatchObject({ kind: 'other' });
    expect(make([{ type: 43, data: Buffer.from([3, 3, 4, 3]) }])).toMatchObject({ kind: 'other' });
    const badSession = encodeHello({ legacyVersion: TLS1_2, sessionId: Buffer.alloc(33), suites: [1], extensions: [], withExtensions: false });
    expect(peekClientHello(inRecords(badSession, []))).toMatchObject({ kind: 'other' });
  });

  it('offersTls12', () => {
    expect(offersTls12({ versions: [TLS1_3], sessionId: Buffer.alloc(0), psk: false, ticket: false })).toBe(false);
    expect(offersTls12({ versions: [0x0a0a, TLS1_3, TLS1_2], sessionId: Buffer.alloc(0), psk: false, ticket: false })).toBe(true);
    expect(offersTls12({ versions: [0x0301], sessionId: Buffer.alloc(0), psk: false, ticket: false })).toBe(true);
  });
});

describe('peekClientHello: real ClientHellos from Node', () => {
  /** The first bytes a Node TLS client sends with `options`. */
  async function capture(options: ConnectionOptions): Promise<Buffer> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const got = new Promise<Buffer>((resolve) => {
      server.once('connection', (s: Socket) => {
        let buf = Buffer.alloc(0);
        s.on('data', (d: Buffer) => {
          buf = Buffer.concat([buf, d]);
          if (peekClientHello(buf).kind !== 'incomplete') {
            resolve(buf);
            s.destroy();
          }
        });
      });
    });
    const c = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...options });
    c.on('error', () => {});
    const buf = await got;
    c.destroy();
    server.close();
    return buf;
  }

  /** Sessions from a real server: TLS 1.3 (ticket / PSK) and TLS 1.2 (ticket). */
  async function sessions(): Promise<{ tls13: Buffer; tls12: Buffer }> {
    const cert = await testCert();
    const server = createTlsServer({ cert: cert.cert, key: cert.key }, (s) => s.end('x'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    const get = async (maxVersion: 'TLSv1.2' | 'TLSv1.3') => {
      const c = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion });
      const s = await once(c, 'session');
      c.destroy();
      return s[0] as Buffer;
    };
    const out = { tls13: await get('TLSv1.3'), tls12: await get('TLSv1.2') };
    server.close();
    return out;
  }

  it('tells fresh and resuming hellos apart', async () => {
    const s = await sessions();
    const fresh = peekClientHello(await capture({}));
    expect(fresh).toMatchObject({ kind: 'hello', hello: { psk: false, ticket: false } });
    if (fresh.kind !== 'hello') throw new Error('unreachable');
    expect(fresh.hello.versions).toContain(TLS1_3);
    expect(offersTls12(fresh.hello)).toBe(true);

    expect(peekClientHello(await capture({ session: s.tls13 }))).toMatchObject({ kind: 'hello', hello: { psk: true } });
    expect(peekClientHello(await capture({ session: s.tls12, maxVersion: 'TLSv1.2' }))).toMatchObject({ kind: 'hello', hello: { ticket: true, psk: false } });

    const only13 = peekClientHello(await capture({ minVersion: 'TLSv1.3' }));
    if (only13.kind !== 'hello') throw new Error(`not a hello: ${only13.kind}`);
    expect(offersTls12(only13.hello)).toBe(false);
    const only12 = peekClientHello(await capture({ maxVersion: 'TLSv1.2' }));
    if (only12.kind !== 'hello') throw new Error(`not a hello: ${only12.kind}`);
    expect(only12.hello.versions).not.toContain(TLS1_3);
  });
});
