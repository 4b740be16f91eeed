import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineReader, type LineEvent } from '../../src/protocol/line-reader.js';
import { chunked, splitPoints } from './split.js';
import { runs } from './fuzz-runs.js';

const IAC = 0xff;
const WILL = 0xfb;
const WONT = 0xfc;
const DO = 0xfd;
const DONT = 0xfe;
const IP = 0xf4;
const DM = 0xf2;
const NOP = 0xf1;

const bytes = (...parts: (string | number | number[])[]): Buffer =>
  Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(typeof p === 'number' ? [p] : p))),
  );

function drain(reader: LineReader): LineEvent[] {
  const out: LineEvent[] = [];
  for (let e = reader.next(); e !== null; e = reader.next()) out.push(e);
  return out;
}

/** Pushes every chunk and drains after each one, as the control channel does. */
function feed(chunks: Buffer[], max?: number, flood?: number): LineEvent[] {
  const reader = new LineReader(max, flood);
  const out: LineEvent[] = [];
  for (const c of chunks) {
    reader.push(c);
    out.push(...drain(reader));
  }
  return out;
}

const lines = (...texts: string[]): LineEvent[] => texts.map((text) => ({ kind: 'line', text }));

describe('LineReader: line ends', () => {
  it('splits on CRLF, bare LF and lone CR', () => {
    expect(feed([bytes('USER a\r\nPASS b\nPWD\rNOOP\r\n')])).toEqual(lines('USER a', 'PASS b', 'PWD', 'NOOP'));
  });

  it('swallows the LF after a CR-ended line, also in the next chunk', () => {
    expect(feed([bytes('ABOR\r'), bytes('\nNOOP\r\n')])).toEqual(lines('ABOR', 'NOOP'));
    expect(feed([bytes('ABOR\r'), bytes('\n'), bytes('\n')])).toEqual(lines('ABOR'));
  });

  it('swallows the NUL of CR NUL (Telnet bare CR)', () => {
    expect(feed([bytes('A\r', 0, 'B\r\n')])).toEqual(lines('A', 'B'));
    expect(feed([bytes('A\r'), bytes(0, 'B\n')])).toEqual(lines('A', 'B'));
  });

  it('only one LF is swallowed after a CR', () => {
    const reader = new LineReader();
    reader.push(bytes('A\r'));
    expect(drain(reader)).toEqual(lines('A'));
    reader.push(bytes('\n\nB\n'));
    expect(drain(reader)).toEqual(lines('B'));
  });

  it('ignores empty lines', () => {
    expect(feed([bytes('\r\n\n\r\r\nUSER x\r\n\r\n')])).toEqual(lines('USER x'));
  });

  it('returns null until a line is complete', () => {
    const reader = new LineReader();
    reader.push(bytes('US'));
    expect(reader.next()).toBeNull();
    reader.push(bytes('ER x'));
    expect(reader.next()).toBeNull();
    reader.push(bytes('\n'));
    expect(reader.next()).toEqual({ kind: 'line', text: 'USER x' });
    expect(reader.next()).toBeNull();
  });

  it('keeps spaces and UTF-8 verbatim', () => {
    expect(feed([bytes('STOR  a b  é 日本.txt \r\n')])).toEqual(lines('STOR  a b  é 日本.txt '));
  });

  it('decodes UTF-8 split across chunks', () => {
    const all = bytes('MKD 日本\r\n');
    expect(feed([all.subarray(0, 6), all.subarray(6, 8), all.subarray(8)])).toEqual(lines('MKD 日本'));
  });
});

describe('LineReader: Telnet', () => {
  it('IAC IAC is one 0xFF byte (which is never valid UTF-8)', () => {
    expect(feed([bytes('A', IAC, IAC, 'B\r\n')])).toEqual([{ kind: 'invalid' }]);
    // it counts as one byte towards the line limit
    expect(feed([bytes('ab', IAC, IAC, '\r\n')], 3)).toEqual([{ kind: 'invalid' }]);
    expect(feed([bytes('abc', IAC, IAC, '\r\n')], 3)).toEqual([{ kind: 'tooLong' }]);
  });

  it('drops IAC WILL/WONT/DO/DONT and the option byte', () => {
    for (const verb of [WILL, WONT, DO, DONT]) {
      expect(feed([bytes('NO', IAC, verb, 0x01, 'OP\r\n')])).toEqual(lines('NOOP'));
      // the option byte is dropped whatever it is, even a line end
      expect(feed([bytes('NO', IAC, verb, 0x0a, 'OP\r\n')])).toEqual(lines('NOOP'));
      expect(feed([bytes('NO', IAC, verb, IAC, 'OP\r\n')])).toEqual(lines('NOOP'));
    }
  });

  it('drops IAC IP and IAC DM (the ABOR sequence)', () => {
    expect(feed([bytes(IAC, IP, IAC, DM, 'ABOR\r\n')])).toEqual(lines('ABOR'));
    expect(feed([bytes('NO', IAC, NOP, 'OP\n')])).toEqual(lines('NOOP'));
  });

  it('IAC before a non-command byte drops only the IAC (DM went out of band)', () => {
    expect(feed([bytes(IAC, IP, IAC, 'ABOR\r\n')])).toEqual(lines('ABOR'));
    expect(feed([bytes('A', IAC, '\nB\n')])).toEqual(lines('A', 'B'));
  });

  it('handles Telnet sequences cut across chunks', () => {
    expect(feed([bytes('NO', IAC), bytes(WILL), bytes(0x03), bytes('OP\n')])).toEqual(lines('NOOP'));
    expect(feed([bytes(IAC), bytes(IP, IAC), bytes('ABOR\r'), bytes('\n')])).toEqual(lines('ABOR'));
    expect(feed([bytes('A', IAC), bytes(IAC, 'B\n')])).toEqual([{ kind: 'invalid' }]);
  });
});

describe('LineReader: limits', () => {
  it('accepts a line of exactly maxLineBytes', () => {
    expect(feed([bytes('abcd\r\n')], 4)).toEqual(lines('abcd'));
  });

  it('reports tooLong once, discards to the next line end, then goes on', () => {
    expect(feed([bytes('abcdefghij'), bytes('klmnop\r\nok\r\n')], 4)).toEqual([{ kind: 'tooLong' }, ...lines('ok')]);
    expect(feed([bytes('abcdefghij\rok\n')], 4)).toEqual([{ kind: 'tooLong' }, ...lines('ok')]);
  });

  it('reports tooLong as soon as the limit is passed, before any line end', () => {
    const reader = new LineReader(4);
    reader.push(bytes('abcde'));
    expect(reader.next()).toEqual({ kind: 'tooLong' });
    expect(reader.next()).toBeNull();
  });

  it('reports flood after floodBytes more bytes without a line end, once', () => {
    // 5 bytes pass the limit of 4, then 10 more bytes are discarded
    expect(feed([Buffer.alloc(14, 0x41)], 4, 10)).toEqual([{ kind: 'tooLong' }]);
    expect(feed([Buffer.alloc(15, 0x41)], 4, 10)).toEqual([{ kind: 'tooLong' }, { kind: 'flood' }]);
    expect(feed([Buffer.alloc(100, 0x41)], 4, 10)).toEqual([{ kind: 'tooLong' }, { kind: 'flood' }]);
  });

  it('a line end resets the flood counter', () => {
    const chunk = Buffer.concat([Buffer.alloc(12, 0x41), bytes('\n'), Buffer.alloc(12, 0x41), bytes('\nok\n')]);
    expect(feed([chunk], 4, 10)).toEqual([{ kind: 'tooLong' }, { kind: 'tooLong' }, ...lines('ok')]);
  });

  it('never buffers more than the limit', () => {
    const reader = new LineReader(64, 1 << 30);
    for (let i = 0; i < 1000; i++) {
      reader.push(Buffer.alloc(1024, 0x41));
      drain(reader);
      expect(reader.pendingBytes).toBe(0);
    }
  });
});

describe('LineReader: encoding', () => {
  it('decodes ASCII lines without the UTF-8 check and UTF-8 lines with it, each line on its own', () => {
    expect(feed([bytes('CWD é\r\nPWD\r\nCWD ', [0xc3, 0x28], '\r\nNOOP\x01\r\n')])).toEqual([
      ...lines('CWD é', 'PWD'),
      { kind: 'invalid' },
      ...lines('NOOP\x01'),
    ]);
  });

  it('reports invalid UTF-8 as invalid, and goes on', () => {
    expect(feed([bytes('CWD ', [0xc3, 0x28], '\r\nPWD\r\n')])).toEqual([{ kind: 'invalid' }, ...lines('PWD')]);
    expect(feed([bytes('CWD ', [0xe9], '\n')])).toEqual([{ kind: 'invalid' }]);
    // overlong encoding and a UTF-16 surrogate
    expect(feed([bytes([0xc0, 0xaf], '\n', [0xed, 0xa0, 0x80], '\n')])).toEqual([{ kind: 'invalid' }, { kind: 'invalid' }]);
  });
});

describe('LineReader: takeRemainder', () => {
  it('returns exactly the bytes after the last line taken', () => {
    const reader = new LineReader();
    reader.push(bytes('AUTH TLS\r\n', [0x16, 0x03, 0x01, 0x00]));
    expect(reader.next()).toEqual({ kind: 'line', text: 'AUTH TLS' });
    expect(reader.takeRemainder()).toEqual(bytes([0x16, 0x03, 0x01, 0x00]));
    expect(reader.pendingBytes).toBe(0);
    expect(reader.next()).toBeNull();
  });

  it('drops the LF of a CR-ended line', () => {
    const reader = new LineReader();
    reader.push(bytes('AUTH TLS\r'));
    expect(reader.next()).toEqual({ kind: 'line', text: 'AUTH TLS' });
    reader.push(bytes('\n', [0x16, 0x03]));
    expect(reader.takeRemainder()).toEqual(bytes([0x16, 0x03]));
  });

  it('does not drop a non-LF byte after a CR-ended line', () => {
    const reader = new LineReader();
    reader.push(bytes('AUTH TLS\r', [0x16, 0x03]));
    expect(reader.next()).toEqual({ kind: 'line', text: 'AUTH TLS' });
    expect(reader.takeRemainder()).toEqual(bytes([0x16, 0x03]));
  });

  it('includes later pipelined commands, untouched', () => {
    const reader = new LineReader();
    reader.push(bytes('AUTH TLS\r\nUSER a\r\n'));
    reader.push(bytes('PASS b\r\n'));
    expect(reader.next()).toEqual({ kind: 'line', text: 'AUTH TLS' });
    expect(reader.takeRemainder().toString()).toBe('USER a\r\nPASS b\r\n');
  });

  it('leaves the reader empty and usable', () => {
    const reader = new LineReader();
    reader.push(bytes('A\r'));
    expect(reader.next()).toEqual({ kind: 'line', text: 'A' });
    expect(reader.takeRemainder().length).toBe(0);
    // the CR state was reset: a later LF is a (empty) line end, not swallowed as part of the old line
    reader.push(bytes('\nB\n'));
    expect(drain(reader)).toEqual(lines('B'));
  });

  it('property: after k lines, the remainder is the raw bytes after the k-th line end, however the bytes were cut', () => {
    const lineArb = fc.string({ unit: fc.constantFrom('a', 'b', ' ', 'é'), minLength: 1, maxLength: 8 });
    const endArb = fc.constantFrom('\r\n', '\n', '\r');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(lineArb, endArb), { minLength: 1, maxLength: 6 }),
        fc.uint8Array({ maxLength: 20 }),
        fc.nat(),
        splitPoints(),
        (cmds, tail, kSeed, cuts) => {
          const k = (kSeed % cmds.length) + 1;
          const wire = Buffer.concat([...cmds.map(([t, e]) => bytes(t + e)), Buffer.from(tail)]);
          const reader = new LineReader();
          for (const c of chunked(wire, cuts)) reader.push(c);
          for (let i = 0; i < k; i++) expect(reader.next()).toEqual({ kind: 'line', text: cmds[i]![0] });
          // expected: the bytes after the k-th line end; a CR end also owns a following LF (or NUL)
          let expected = Buffer.concat([...cmds.slice(k).map(([t, e]) => bytes(t + e)), Buffer.from(tail)]);
          if (cmds[k - 1]![1] === '\r' && (expected[0] === 0x0a || expected[0] === 0x00)) expected = expected.subarray(1);
          expect(reader.takeRemainder()).toEqual(expected);
        },
      ),
      runs(500),
    );
  });
});

describe('LineReader: split-packet fuzzing', () => {
  // Bytes that matter to the reader, and some that do not.
  const special = [0x0a, 0x0d, 0x00, IAC, WILL, WONT, DO, DONT, IP, DM, NOP, 0xf0, 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0x20];
  const byteArb = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...special) },
    { weight: 2, arbitrary: fc.integer({ min: 0x41, max: 0x45 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  const streamArb = fc.array(byteArb, { maxLength: 300 }).map((a) => Buffer.from(a));

  it('random byte streams give the same events however they are cut', () => {
    fc.assert(
      fc.property(streamArb, splitPoints(), fc.constantFrom(4, 16, 8192), (wire, cuts, max) => {
        const whole = feed([wire], max, 24);
        expect(feed(chunked(wire, cuts), max, 24)).toEqual(whole);
        // one byte at a time, too
        expect(feed([...wire].map((b) => Buffer.from([b])), max, 24)).toEqual(whole);
      }),
      runs(1000),
    );
  });

  it('transcripts with Telnet noise give their command lines however they are cut', () => {
    const safeChar = fc.constantFrom('U', 'S', 'E', 'R', ' ', 'x', '"', 'é', '日', '/');
    const noise = fc.oneof(
      fc.tuple(fc.constantFrom(WILL, WONT, DO, DONT), fc.integer({ min: 0, max: 255 })).map(([v, o]) => [IAC, v, o]),
      fc.constantFrom([IAC, IP], [IAC, DM], [IAC, NOP]),
    );
    // a lone IAC before a byte that is not a Telnet command: only the IAC goes
    const loneIac = safeChar.map((c) => ({ text: c, raw: Buffer.concat([Buffer.from([IAC]), Buffer.from(c)]) }));
    // a line is a list of pieces: text or Telnet noise (noise is never inside a UTF-8 sequence here)
    const piece = fc.oneof(
      { weight: 4, arbitrary: safeChar.map((c) => ({ text: c, raw: Buffer.from(c) })) },
      { weight: 1, arbitrary: noise.map((n) => ({ text: '', raw: Buffer.from(n) })) },
      { weight: 1, arbitrary: loneIac },
    );
    const line = fc.tuple(fc.array(piece, { maxLength: 12 }), fc.constantFrom('\r\n', '\n', '\r', '\r\0'));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), splitPoints(), (script, cuts) => {
        const wire = Buffer.concat(script.flatMap(([pieces, end]) => [...pieces.map((p) => p.raw), Buffer.from(end, 'latin1')]));
        const expected = script.map(([pieces]) => pieces.map((p) => p.text).join('')).filter((t) => t !== '');
        expect(feed(chunked(wire, cuts))).toEqual(lines(...expected));
      }),
      runs(1000),
    );
  });
});
