import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FtpError } from '../../src/base/errors.js';
import { MAX_NAME_BYTES, MAX_PATH_BYTES, ROOT, baseName, formatPath, isInside, parentOf, resolvePath, type VirtualPath } from '../../src/base/virtual-path.js';
import { runs } from './fuzz-runs.js';

function expect553(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FtpError);
    expect((err as FtpError).reply.code).toBe(553);
    expect((err as FtpError).code).toBe('FTP_ERR_BAD_NAME');
    return;
  }
  throw new Error('expected a 553 FtpError');
}

describe('resolvePath', () => {
  it('joins relative paths to the cwd and restarts at / for absolute ones', () => {
    expect(resolvePath(['a'], 'b/c')).toEqual(['a', 'b', 'c']);
    expect(resolvePath(['a'], '/b/c')).toEqual(['b', 'c']);
    expect(resolvePath(['a'], '/')).toEqual([]);
    expect(resolvePath(['a'], '')).toEqual(['a']);
  });

  it('drops . and empty segments', () => {
    expect(resolvePath([], './a//b/./c/')).toEqual(['a', 'b', 'c']);
    expect(resolvePath(['x'], '.')).toEqual(['x']);
    expect(resolvePath(['x'], '//')).toEqual([]);
  });

  it('pops on .. but never above the root', () => {
    expect(resolvePath(['a', 'b'], '..')).toEqual(['a']);
    expect(resolvePath(['a', 'b'], '../../../../etc/passwd')).toEqual(['etc', 'passwd']);
    expect(resolvePath([], '/../..')).toEqual([]);
    expect(resolvePath(['a'], 'b/../../..')).toEqual([]);
  });

  it('keeps names with spaces, quotes, dots and UTF-8 as they are', () => {
    expect(resolvePath([], ' a b /"q"/...//..a/é日本')).toEqual([' a b ', '"q"', '...', '..a', 'é日本']);
    expect(resolvePath([], 'a\\..\\b')).toEqual(['a\\..\\b']);
  });

  it('rejects NUL with 553', () => {
    expect553(() => resolvePath([], 'a\0b'));
    expect553(() => resolvePath(['x'], '\0'));
  });

  it('rejects overlong names and paths with 553 (counted in UTF-8 bytes)', () => {
    expect(resolvePath([], 'a'.repeat(MAX_NAME_BYTES))).toEqual(['a'.repeat(MAX_NAME_BYTES)]);
    expect553(() => resolvePath([], 'a'.repeat(MAX_NAME_BYTES + 1)));
    expect(resolvePath([], 'é'.repeat(127))).toHaveLength(1); // 254 bytes
    expect553(() => resolvePath([], 'é'.repeat(128))); // 256 bytes
    expect553(() => resolvePath([], 'a/'.repeat(MAX_PATH_BYTES / 2 + 1)));
    // the joined result counts too
    const deep = Array.from({ length: 20 }, () => 'd'.repeat(250));
    expect553(() => resolvePath(deep, 'x'));
  });

  it('helpers', () => {
    expect(formatPath(ROOT)).toBe('/');
    expect(formatPath(['a', 'b c'])).toBe('/a/b c');
    expect(parentOf(['a', 'b'])).toEqual(['a']);
    expect(parentOf([])).toEqual([]);
    expect(baseName([])).toBe('/');
    expect(baseName(['a', 'b'])).toBe('b');
    expect(isInside(['a', 'b'], ['a'])).toBe(true);
    expect(isInside(['a'], ['a'])).toBe(true);
    expect(isInside(['ab'], ['a'])).toBe(false);
    expect(isInside(['a'], ['a', 'b'])).toBe(false);
    expect(isInside(['a'], ROOT)).toBe(true);
  });

  const segment = fc.oneof(
    fc.constantFrom('..', '.', '', 'a', 'b', ' ', '...', 'é', '"', '\\'),
    fc.string({ unit: 'binary', maxLength: 6 }).filter((s) => !s.includes('/') && !s.includes('\0')),
  );
  const arg = fc.tuple(fc.boolean(), fc.array(segment, { maxLength: 12 })).map(([abs, segs]) => (abs ? '/' : '') + segs.join('/'));
  const cwd: fc.Arbitrary<VirtualPath> = fc.array(fc.constantFrom('a', 'b', 'é', 'x y'), { maxLength: 5 });

  it('property: the result never has .., . or empty segments, nor a slash or NUL', () => {
    fc.assert(
      fc.property(cwd, arg, (c, a) => {
        const r = resolvePath(c, a);
        for (const s of r) {
          expect(['', '.', '..']).not.toContain(s);
          expect(s).not.toMatch(/[/\0]/);
        }
      }),
      runs(500),
    );
  });

  it('property: resolving the formatted result again gives the same path, from any cwd', () => {
    fc.assert(
      fc.property(cwd, cwd, arg, (c, other, a) => {
        const r = resolvePath(c, a);
        expect(resolvePath(other, formatPath(r))).toEqual(r);
        expect(resolvePath(r, '.')).toEqual(r);
        expect(resolvePath(r, '')).toEqual(r);
      }),
      runs(500),
    );
  });

  it('property: matches a reference model (a stack)', () => {
    fc.assert(
      fc.property(cwd, arg, (c, a) => {
        const stack = a.startsWith('/') ? [] : [...c];
        for (const s of a.split('/')) {
          if (s === '..') stack.pop();
          else if (s !== '' && s !== '.') stack.push(s);
        }
        expect(resolvePath(c, a)).toEqual(stack);
      }),
      runs(500),
    );
  });

  it('property: never throws anything but a 553 FtpError', () => {
    fc.assert(
      fc.property(cwd, fc.string({ unit: 'binary', maxLength: 300 }), (c, a) => {
        try {
          resolvePath(c, a);
        } catch (err) {
          expect(err).toBeInstanceOf(FtpError);
          expect((err as FtpError).reply.code).toBe(553);
        }
      }),
      runs(500),
    );
  });
});
