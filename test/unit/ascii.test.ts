import fc from 'fast-check';
import type { Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fromNetworkAscii, toNetworkAscii } from '../../src/data/ascii.js';
import { chunked, splitPoints } from './split.js';
import { runs } from './fuzz-runs.js';

/** Writes the chunks (empty ones too) through the transform and collects what comes out. */
async function run(t: Transform, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  t.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    t.on('end', resolve);
    t.on('error', reject);
  });
  for (const c of chunks) t.write(c);
  t.end();
  await done;
  return Buffer.concat(out);
}

// Reference conversions, on latin1 strings so every byte is one character.
const refTo = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace(/(?<!\r)\n/g, '\r\n'), 'latin1');
const refFrom = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');

const data = fc
  .array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0x0d, 0x0a) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 255 }) }), { maxLength: 200 })
  .map((a) => Buffer.from(a));

describe('TYPE A conversion', () => {
  it('toNetworkAscii: bare LF becomes CRLF, CRLF and lone CR stay', async () => {
    expect((await run(toNetworkAscii(), [Buffer.from('a\nb\r\nc\rd\n\n')])).toString()).toBe('a\r\nb\r\nc\rd\r\n\r\n');
    expect((await run(toNetworkAscii(), [Buffer.from('a\r'), Buffer.from('\nb')])).toString()).toBe('a\r\nb');
    expect((await run(toNetworkAscii(), [Buffer.from('a'), Buffer.from('\nb')])).toString()).toBe('a\r\nb');
  });

  it('fromNetworkAscii: CRLF becomes LF, lone CR and bare LF stay', async () => {
    expect((await run(fromNetworkAscii(), [Buffer.from('a\r\nb\rc\nd\r\r\n')])).toString()).toBe('a\nb\rc\nd\r\n');
    expect((await run(fromNetworkAscii(), [Buffer.from('a\r'), Buffer.from('\nb')])).toString()).toBe('a\nb');
    expect((await run(fromNetworkAscii(), [Buffer.from('a\r'), Buffer.from('b')])).toString()).toBe('a\rb');
    expect((await run(fromNetworkAscii(), [Buffer.from('a\r')])).toString()).toBe('a\r');
  });

  it('fromNetworkAscii: an empty chunk after a held CR changes nothing', async () => {
    expect((await run(fromNetworkAscii(), [Buffer.from('a\r'), Buffer.alloc(0), Buffer.from('\nb')])).toString()).toBe('a\nb');
    expect((await run(fromNetworkAscii(), [Buffer.from('\r'), Buffer.alloc(0), Buffer.alloc(0)])).toString()).toBe('\r');
  });

  it('property: toNetworkAscii over random chunks equals the reference', async () => {
    await fc.assert(
      fc.asyncProperty(data, splitPoints(), async (input, cuts) => {
        expect(await run(toNetworkAscii(), chunked(input, cuts))).toEqual(refTo(input));
        expect(await run(toNetworkAscii(), chunked(input, cuts).flatMap((c) => [c, Buffer.alloc(0)]))).toEqual(refTo(input));
      }),
      runs(500),
    );
  });

  it('property: fromNetworkAscii over random chunks equals the reference', async () => {
    await fc.assert(
      fc.asyncProperty(data, splitPoints(), async (input, cuts) => {
        expect(await run(fromNetworkAscii(), chunked(input, cuts))).toEqual(refFrom(input));
        // with empty chunks in between
        expect(await run(fromNetworkAscii(), chunked(input, cuts).flatMap((c) => [c, Buffer.alloc(0)]))).toEqual(refFrom(input));
      }),
      runs(500),
    );
  });

  it('property: text without CR survives a round trip', async () => {
    await fc.assert(
      fc.asyncProperty(data.map((b) => Buffer.from(b.filter((x) => x !== 0x0d))), splitPoints(), splitPoints(), async (input, c1, c2) => {
        const wire = await run(toNetworkAscii(), chunked(input, c1));
        expect(await run(fromNetworkAscii(), chunked(wire, c2))).toEqual(input);
      }),
      runs(300),
    );
  });
});
