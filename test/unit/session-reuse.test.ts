import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { masterKeyDigest } from '../../src/tls/session-reuse.js';
import { generateSelfSigned, type GeneratedCert } from '../../src/tls/self-signed.js';
import { runs } from './fuzz-runs.js';

interface Handshake {
  reused: boolean;
  client: Buffer | undefined;
  server: Buffer | undefined;
  /** The last session (ticket) the client was given. */
  ticket: Buffer | undefined;
}

/** A loopback TLS server that records its side of each session. */
async function tlsServer(cert: GeneratedCert, version: tls.SecureVersion) {
  const serverSessions: (Buffer | undefined)[] = [];
  const issued: Buffer[] = [];
  const server = tls.createServer({ cert: cert.cert, key: cert.key, minVersion: version, maxVersion: version }, (s) => {
    serverSessions.push(s.getSession());
    s.end('x');
  });
  server.on('newSession', (_id: Buffer, data: Buffer, done: () => void) => {
    issued.push(data);
    done();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const connect = async (session?: Buffer): Promise<Handshake> => {
    const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: version, maxVersion: version, ...(session ? { session } : {}) });
    let ticket: Buffer | undefined;
    c.on('session', (s: Buffer) => (ticket = s));
    c.resume();
    await once(c, 'end');
    const out = { reused: c.isSessionReused(), client: c.getSession(), server: serverSessions.at(-1), ticket };
    c.destroy();
    return out;
  };
  return { connect, issued, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** DER: tag, length (short or long form), content. */
function der(tag: number, content: Buffer, longForm = false): Buffer {
  const len = content.length;
  const header = len < 128 && !longForm ? Buffer.from([tag, len]) : Buffer.from([tag, 0x82, len >> 8, len & 255]);
  return Buffer.concat([header, content]);
}

function fakeSession(master: Buffer, longForm = false): Buffer {
  return der(
    0x30,
    Buffer.concat([der(0x02, Buffer.from([1])), der(0x02, Buffer.from([3, 3])), der(0x04, Buffer.from([0xc0, 0x2b])), der(0x04, Buffer.alloc(32, 7)), der(0x04, master, longForm), der(0xa1, Buffer.from([2, 1, 0]))]),
    longForm,
  );
}

describe('masterKeyDigest', () => {
  let cert: GeneratedCert;
  beforeAll(async () => {
    cert = await generateSelfSigned();
  });

  it('digests the master key of a hand-made session (short and long DER lengths)', () => {
    const master = Buffer.alloc(48, 0xab);
    const expected = createHash('sha256').update(master).digest('base64');
    expect(masterKeyDigest(fakeSession(master))).toBe(expected);
    expect(masterKeyDigest(fakeSession(master, true))).toBe(expected);
    expect(masterKeyDigest(fakeSession(Buffer.alloc(48, 0xac)))).not.toBe(expected);
  });

  it('returns undefined for an empty master key or a wrong structure', () => {
    expect(masterKeyDigest(fakeSession(Buffer.alloc(0)))).toBeUndefined();
    expect(masterKeyDigest(Buffer.alloc(0))).toBeUndefined();
    expect(masterKeyDigest(Buffer.from([0x30]))).toBeUndefined();
    expect(masterKeyDigest(Buffer.from([0x30, 0x80]))).toBeUndefined();
    expect(masterKeyDigest(Buffer.from([0x31, 0x03, 0x02, 0x01, 0x01]))).toBeUndefined();
    const s = fakeSession(Buffer.alloc(48, 1));
    const wrongTag = Buffer.from(s);
    wrongTag[2] = 0x04; // version is not an INTEGER
    expect(masterKeyDigest(wrongTag)).toBeUndefined();
  });

  describe('real sessions from node:tls on loopback', () => {
    it('TLS 1.2: server and client agree, and a resumed session has the same digest', async () => {
      const srv = await tlsServer(cert, 'TLSv1.2');
      try {
        const first = await srv.connect();
        const d = masterKeyDigest(first.server!);
        expect(d).toMatch(/^[A-Za-z0-9+/]{43}=$/);
        expect(masterKeyDigest(first.client!)).toBe(d);
        const resumed = await srv.connect(first.ticket ?? first.client);
        expect(resumed.reused).toBe(true);
        expect(masterKeyDigest(resumed.server!)).toBe(d);
        const other = await srv.connect();
        expect(other.reused).toBe(false);
        expect(masterKeyDigest(other.server!)).not.toBe(d);
      } finally {
        await srv.close();
      }
    });

    it('TLS 1.3: a resumed session has the digest of the ticket the server issued', async () => {
      const srv = await tlsServer(cert, 'TLSv1.3');
      try {
        const first = await srv.connect();
        expect(first.ticket).toBeDefined();
        const issued = srv.issued.map((s) => masterKeyDigest(s));
        for (const d of issued) expect(d).toBeDefined();
        const resumed = await srv.connect(first.ticket);
        expect(resumed.reused).toBe(true);
        const d = masterKeyDigest(resumed.server!);
        expect(d).toBeDefined();
        expect(d).toBe(masterKeyDigest(first.ticket!));
        expect(issued).toContain(d);
      } finally {
        await srv.close();
      }
    });

    it('property: truncated or mutated real sessions never throw', async () => {
      const srv = await tlsServer(cert, 'TLSv1.2');
      let real: Buffer;
      try {
        real = (await srv.connect()).server!;
      } finally {
        await srv.close();
      }
      for (let n = 0; n < real.length; n++) masterKeyDigest(real.subarray(0, n));
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (edits) => {
          const copy = Buffer.from(real);
          for (const [at, b] of edits) copy[at % copy.length] = b;
          const d = masterKeyDigest(copy);
          expect(d === undefined || typeof d === 'string').toBe(true);
        }),
        runs(500),
      );
    });
  });

  it('property: never throws on garbage', () => {
    const derish = fc.array(fc.oneof(fc.constantFrom(0x30, 0x02, 0x04, 0x80, 0x81, 0x82, 0x83, 0x84, 0xff, 0x00, 0x01), fc.integer({ min: 0, max: 255 })), { maxLength: 80 });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Array.from(a)), derish), (bytes) => {
        const d = masterKeyDigest(Buffer.from(bytes));
        expect(d === undefined || typeof d === 'string').toBe(true);
      }),
      runs(500),
    );
  });
});

