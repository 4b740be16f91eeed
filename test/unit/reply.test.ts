import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatReply, quotePath, reply, safeText } from '../../src/base/reply.js';
import { runs } from './fuzz-runs.js';

describe('safeText', () => {
  it('turns CR, LF, NUL, other C0 controls and DEL into spaces', () => {
    expect(safeText('a\r\nb\0c\td\x1be\x7ff')).toBe('a  b c d e f');
    expect(safeText('é 日本 "q"')).toBe('é 日本 "q"');
  });
});

describe('quotePath', () => {
  it('wraps in double quotes and doubles embedded quotes', () => {
    expect(quotePath('/a')).toBe('"/a"');
    expect(quotePath('/say "hi"')).toBe('"/say ""hi"""');
    expect(quotePath('/a\r\n257 x')).toBe('"/a  257 x"');
  });
});

describe('formatReply', () => {
  it('formats a one-line reply', () => {
    expect(formatReply(reply(200, 'OK.'))).toBe('200 OK.\r\n');
    expect(formatReply(reply(200))).toBe('200 \r\n');
  });

  it('formats a multi-line reply (RFC 959 4.2)', () => {
    expect(formatReply(reply(211, 'Features:', ' UTF8', ' MLST type*;', 'End'))).toBe('211-Features:\r\n UTF8\r\n MLST type*;\r\n211 End\r\n');
    expect(formatReply(reply(214, 'a', 'b'))).toBe('214-a\r\n214 b\r\n');
  });

  it('pads continuation lines that look like a reply code', () => {
    expect(formatReply(reply(211, 'x', '211 fake end', '226-fake', '12 short', 'End'))).toBe('211-x\r\n 211 fake end\r\n 226-fake\r\n12 short\r\n211 End\r\n');
  });

  it('cannot be split by CR/LF in the text', () => {
    expect(formatReply(reply(550, 'No such file: a\r\n230 Logged in'))).toBe('550 No such file: a  230 Logged in\r\n');
    expect(formatReply(reply(211, 'x', 'y\n211 z', 'End'))).toBe('211-x\r\ny 211 z\r\n211 End\r\n');
  });

  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.tuple(fc.integer({ min: 100, max: 599 }), fc.constantFrom(' ', '-', ''), fc.string({ maxLength: 10 })).map(([c, s, t]) => `${c}${s}${t}`),
    fc.string({ unit: fc.constantFrom('\r', '\n', '\0', 'a', '2', ' ', '-'), maxLength: 12 }),
  );

  it('property: exactly one CRLF per line, no other CR or LF, and only the last line ends the reply', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.array(text, { minLength: 1, maxLength: 6 }), (code, lines) => {
        const out = formatReply(reply(code, ...lines));
        expect(out.endsWith('\r\n')).toBe(true);
        const wireLines = out.slice(0, -2).split('\r\n');
        expect(wireLines).toHaveLength(lines.length);
        for (const l of wireLines) expect(l).not.toMatch(/[\r\n\0]/);
        // a client reads until a line that starts with the code and a space
        const ends = wireLines.map((l, i) => (l.startsWith(`${code} `) ? i : -1)).filter((i) => i >= 0);
        expect(ends).toEqual([lines.length - 1]);
        if (lines.length > 1) expect(wireLines[0]!.startsWith(`${code}-`)).toBe(true);
        // no middle line looks like any final line
        for (const l of wireLines.slice(1, -1)) expect(l).not.toMatch(/^\d{3} /);
      }),
      runs(500),
    );
  });

  it('property: safe text is kept as it is', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s)), (t) => {
        expect(formatReply(reply(200, t))).toBe(`200 ${t}\r\n`);
      }),
      runs(300),
    );
  });
});
