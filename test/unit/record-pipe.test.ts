import fc from 'fast-check';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RecordPipe } from '../../src/protocol/record-pipe.js';
import { chunked, splitPoints } from './split.js';
import { runs } from './fuzz-runs.js';

/** Just enough of a socket for RecordPipe: pause/resume and write. */
function fakeSocket() {
  const written: Buffer[] = [];
  const sock = {
    destroyed: false,
    writable: true,
    paused: false,
    pause() {
      sock.paused = true;
      return sock;
    },
    resume() {
      sock.paused = false;
      return sock;
    },
    write(chunk: Buffer, cb?: (err?: Error | null) => void) {
      written.push(Buffer.from(chunk));
      cb?.(null);
      return true;
    },
  };
  return { sock, written, asSocket: sock as unknown as Socket };
}

function record(type: number, payload: Buffer): Buffer {
  const h = Buffer.from([type, 3, 3, 0, 0]);
  h.writeUInt16BE(payload.length, 3);
  return Buffer.concat([h, payload]);
}

/** Feeds the chunks; returns what went to TLS and the plaintext handed back. */
function feedAll(pipe: RecordPipe, chunks: Buffer[]): { tls: Buffer; plain: Buffer } {
  const plain: Buffer[] = [];
  for (const c of chunks) {
    const p = pipe.feed(c);
    if (p) plain.push(p);
  }
  const tls: Buffer[] = [];
  for (let c = pipe.read() as Buffer | null; c !== null; c = pipe.read() as Buffer | null) tls.push(c);
  return { tls: Buffer.concat(tls), plain: Buffer.concat(plain) };
}

const recordArb = fc
  .tuple(fc.integer({ min: 20, max: 23 }), fc.uint8Array({ maxLength: 40 }))
  .map(([t, p]) => record(t, Buffer.from(p)));
// Plaintext starts with a byte that cannot start a record, but may contain such bytes later.
const plainArb = fc
  .tuple(fc.integer({ min: 0, max: 255 }).filter((b) => b < 20 || b > 23), fc.array(fc.oneof(fc.integer({ min: 20, max: 23 }), fc.integer({ min: 0, max: 255 })), { maxLength: 30 }))
  .map(([first, rest]) => Buffer.from([first, ...rest]));

describe('RecordPipe.feed', () => {
  it('gives everything to TLS while not clearing', () => {
    const { asSocket } = fakeSocket();
    const pipe = new RecordPipe(asSocket);
    const wire = Buffer.concat([record(23, Buffer.from('abc')), Buffer.from('NOOP\r\n')]);
    expect(feedAll(pipe, [wire])).toEqual({ tls: wire, plain: Buffer.alloc(0) });
  });

  it('returns the bytes after the last record once clearing', () => {
    const { asSocket } = fakeSocket();
    const pipe = new RecordPipe(asSocket);
    pipe.clearing = true;
    const records = Buffer.concat([record(21, Buffer.from([1, 0])), record(23, Buffer.alloc(300, 0x41))]);
    const wire = Buffer.concat([records, Buffer.from('PWD\r\n')]);
    const out = feedAll(pipe, [wire]);
    expect(out.tls).toEqual(records);
    expect(out.plain.toString()).toBe('PWD\r\n');
  });

  it('a record-type byte inside a record payload or header is not plaintext', () => {
    const { asSocket } = fakeSocket();
    const pipe = new RecordPipe(asSocket);
    pipe.clearing = true;
    const rec = record(23, Buffer.from('NOOP\r\n')); // the payload looks like plaintext
    const out = feedAll(pipe, [rec.subarray(0, 2), rec.subarray(2, 7), rec.subarray(7)]);
    expect(out).toEqual({ tls: rec, plain: Buffer.alloc(0) });
  });

  it('everything after the first plaintext byte is plaintext, in later chunks too', () => {
    const { asSocket } = fakeSocket();
    const pipe = new RecordPipe(asSocket);
    pipe.clearing = true;
    const rec = record(21, Buffer.from([1, 0]));
    const out = feedAll(pipe, [rec, Buffer.from('A'), Buffer.from([0x16, 0x03, 0x03, 0x00, 0x01, 0x00])]);
    expect(out.tls).toEqual(rec);
    expect(out.plain).toEqual(Buffer.from([0x41, 0x16, 0x03, 0x03, 0x00, 0x01, 0x00]));
  });

  it('pauses the raw socket when the TLS side does not read', () => {
    const { asSocket, sock } = fakeSocket();
    const pipe = new RecordPipe(asSocket);
    pipe.feed(record(23, Buffer.alloc(20_000)));
    expect(sock.paused).toBe(true);
    pipe.read();
    expect(sock.paused).toBe(false);
  });

  it('writes TLS output to the raw socket and never ends it', async () => {
    const { asSocket, written } = fakeSocket();
    const pipe = new RecordPipe(asSocket);
    await new Promise<void>((resolve) => pipe.write(Buffer.from('x'), () => resolve()));
    await new Promise<void>((resolve) => pipe.end(resolve));
    expect(written).toEqual([Buffer.from('x')]);
  });

  it('property: records + plaintext cut anywhere give the same TLS bytes and plaintext', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 6 }), fc.option(plainArb, { nil: undefined }), splitPoints(), (recs, plain, cuts) => {
        const records = Buffer.concat(recs);
        const wire = Buffer.concat([records, plain ?? Buffer.alloc(0)]);
        const { asSocket } = fakeSocket();
        const pipe = new RecordPipe(asSocket);
        pipe.clearing = true;
        const out = feedAll(pipe, chunked(wire, cuts));
        expect(out.tls).toEqual(records);
        expect(out.plain).toEqual(plain ?? Buffer.alloc(0));
      }),
      runs(500),
    );
  });

  it('property: clearing set between chunks at a record boundary', () => {
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 4 }), fc.array(recordArb, { maxLength: 4 }), plainArb, splitPoints(), (before, after, plain, cuts) => {
        const { asSocket } = fakeSocket();
        const pipe = new RecordPipe(asSocket);
        const first = feedAll(pipe, chunked(Buffer.concat(before), cuts));
        pipe.clearing = true;
        const second = feedAll(pipe, chunked(Buffer.concat([...after, plain]), cuts));
        expect(Buffer.concat([first.tls, second.tls])).toEqual(Buffer.concat([...before, ...after]));
        expect(first.plain.length).toBe(0);
        expect(second.plain).toEqual(plain);
      }),
      runs(300),
    );
  });
});
