import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob, hasWildcard } from '../../src/listing/glob.js';
import { runs } from './fuzz-runs.js';

const m = (pattern: string, name: string) => compileGlob(pattern)(name);

describe('glob (LIST/NLST wildcards)', () => {
  it('knows a wildcard segment', () => {
    for (const s of ['*', '*.csv', 'a?', '[ab]x']) expect(hasWildcard(s)).toBe(true);
    for (const s of ['plain.txt', 'a]b', '', 'x-y']) expect(hasWildcard(s)).toBe(false);
  });

  it('* ? and classes', () => {
    expect(m('*.csv', 'a.csv')).toBe(true);
    expect(m('*.csv', 'a.csv.bak')).toBe(false);
    expect(m('*', 'anything at all')).toBe(true);
    expect(m('a*b*c', 'aXXbYYc')).toBe(true);
    expect(m('a*b*c', 'aXXbYY')).toBe(false);
    expect(m('?.txt', 'a.txt')).toBe(true);
    expect(m('?.txt', 'ab.txt')).toBe(false);
    expect(m('?', 'é')).toBe(true); // one code point
    expect(m('?', '☕')).toBe(true);
    expect(m('f[0-9].bin', 'f7.bin')).toBe(true);
    expect(m('f[0-9].bin', 'fx.bin')).toBe(false);
    expect(m('f[!0-9].bin', 'fx.bin')).toBe(true);
    expect(m('f[^0-9].bin', 'f1.bin')).toBe(false);
    expect(m('[]x]', ']')).toBe(true);
    expect(m('[a-]', '-')).toBe(true);
    expect(m('[abc', '[abc')).toBe(true); // unterminated: literal
    expect(m('report', 'report')).toBe(true);
  });

  it('a leading dot is matched only explicitly', () => {
    expect(m('*', '.hidden')).toBe(false);
    expect(m('?hidden', '.hidden')).toBe(false);
    expect(m('.*', '.hidden')).toBe(true);
  });

  it('stays fast on patterns that make regular expressions backtrack', () => {
    const started = performance.now();
    expect(m('*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(255))).toBe(false);
    expect(m('*'.repeat(500) + 'b', 'a'.repeat(255))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('property: a pattern without wildcards matches exactly itself', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }).filter((s) => !hasWildcard(s) && !s.startsWith('.')), fc.string({ maxLength: 20 }), (p, other) => {
        expect(m(p, p)).toBe(true);
        if (other !== p) expect(m(p, other)).toBe(false);
      }),
      runs(300),
    );
  });

  it('property: * matches every name without a leading dot, and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 }), (p, name) => {
        expect(typeof m(p, name)).toBe('boolean');
        if (!name.startsWith('.')) expect(m('*', name)).toBe(true);
      }),
      runs(500),
    );
  });
});
