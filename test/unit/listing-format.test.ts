import { describe, expect, it } from 'vitest';
import { permissionSet, readOnly, readWrite } from '../../src/auth/permissions.js';
import { lsDate, lsLine } from '../../src/listing/ls-format.js';
import { MLST_FACTS, mlsxLine, permFact, timeVal } from '../../src/listing/mlsx-format.js';
import type { FileStat } from '../../src/storage/storage.js';

const NOW = Date.parse('2025-01-15T12:00:00Z');
const DAY = 86_400_000;

const file: FileStat = {
  name: 'a.txt',
  type: 'file',
  size: 1234,
  mtime: new Date('2024-11-28T20:03:59.900Z'),
  mode: 0o644,
  nlink: 1,
  owner: 'ftp',
  group: 'ftp',
  unique: '801g2a',
};
const dir: FileStat = { name: 'my dir', type: 'dir', size: 0, mtime: new Date('2023-03-05T10:00:00Z'), mode: 0o755, nlink: 3, owner: '1000', group: '1000', unique: '801g2b' };

describe('ls -l lines', () => {
  it('formats a recent file with the time, in UTC', () => {
    expect(lsLine(file, NOW)).toBe('-rw-r--r--    1 ftp      ftp              1234 Nov 28 20:03 a.txt');
  });

  it('formats an old directory with the year, names with spaces kept', () => {
    expect(lsLine(dir, NOW)).toBe('drwxr-xr-x    3 1000     1000                0 Mar  5  2023 my dir');
  });

  it('defaults missing mode, links and owner', () => {
    expect(lsLine({ name: 'f', type: 'file', size: 0, mtime: new Date(NOW - DAY) }, NOW)).toBe('-rw-r--r--    1 ftp      ftp                 0 Jan 14 12:00 f');
    expect(lsLine({ name: 'd', type: 'dir', size: 0, mtime: new Date(NOW - DAY) }, NOW)).toBe('drwxr-xr-x    1 ftp      ftp                 0 Jan 14 12:00 d');
  });

  it('shows every permission bit and keeps columns separated for long names and sizes', () => {
    const st: FileStat = { name: 'x', type: 'file', size: 123_456_789_012_345, mtime: new Date(NOW), mode: 0o4751, owner: 'averyverylongowner', group: 'g' };
    expect(lsLine(st, NOW)).toBe('-rwxr-x--x    1 averyverylongowner g        123456789012345 Jan 15 12:00 x');
    expect(lsLine({ ...st, mode: 0o000, size: 1 }, NOW).slice(0, 10)).toBe('----------');
    expect(lsLine({ ...st, mode: 0o777, size: 1 }, NOW).slice(0, 10)).toBe('-rwxrwxrwx');
  });

  it('uses the time within six months and the year beyond', () => {
    expect(lsDate(new Date(NOW - 181 * DAY), NOW)).toBe('Jul 18 12:00');
    expect(lsDate(new Date(NOW - 183 * DAY), NOW)).toBe('Jul 16  2024');
    expect(lsDate(new Date('2025-01-01T00:00:00Z'), NOW)).toBe('Jan  1 00:00');
    expect(lsDate(new Date('1999-12-31T23:59:59Z'), NOW)).toBe('Dec 31  1999');
  });

  it('shows the year for dates in the future (beyond a day of clock skew)', () => {
    expect(lsDate(new Date(NOW + 3_600_000), NOW)).toBe('Jan 15 13:00');
    expect(lsDate(new Date(NOW + 60 * DAY), NOW)).toBe('Mar 16  2025');
    expect(lsDate(new Date(NOW + 400 * DAY), NOW)).toBe('Feb 19  2026');
  });
});

describe('MLSx facts', () => {
  const all = new Set(MLST_FACTS.map((f) => f.toLowerCase()));

  it('timeVal is YYYYMMDDHHMMSS in UTC, milliseconds dropped', () => {
    expect(timeVal(new Date('2024-11-28T20:03:59.900Z'))).toBe('20241128200359');
    expect(timeVal(new Date(0))).toBe('19700101000000');
  });

  it('formats a file with every fact', () => {
    expect(mlsxLine(file, ['a.txt'], readWrite, all)).toBe('type=file;size=1234;modify=20241128200359;perm=adfrw;unique=801g2a;UNIX.mode=0644; a.txt');
  });

  it('formats a directory: no size, and the cdir/pdir type override', () => {
    expect(mlsxLine(dir, ['my dir'], readWrite, all)).toBe('type=dir;modify=20230305100000;perm=cdeflmp;unique=801g2b;UNIX.mode=0755; my dir');
    expect(mlsxLine(dir, ['my dir'], readOnly, new Set(['type']), 'cdir')).toBe('type=cdir; my dir');
  });

  it('shows only the selected facts, and only those the backend has', () => {
    expect(mlsxLine(file, ['a.txt'], readOnly, new Set(['size', 'type']))).toBe('type=file;size=1234; a.txt');
    expect(mlsxLine(file, ['a.txt'], readOnly, new Set())).toBe(' a.txt');
    const bare: FileStat = { name: 'b', type: 'file', size: 0, mtime: new Date(0) };
    expect(mlsxLine(bare, ['b'], readOnly, all)).toBe('type=file;size=0;modify=19700101000000;perm=r; b');
  });

  it('perm facts follow the permissions', () => {
    expect(permFact(file, ['a.txt'], readOnly)).toBe('r');
    expect(permFact(dir, ['d'], readOnly)).toBe('el');
    expect(permFact(file, ['a.txt'], readWrite)).toBe('adfrw');
    expect(permFact(dir, ['d'], readWrite)).toBe('cdeflmp');
    // STOR onto a file replaces it and RNFR takes it away: `w` and `f` need delete too
    expect(permFact(file, ['a.txt'], permissionSet(['read', 'write', 'rename']))).toBe('r');
    expect(permFact(file, ['a.txt'], permissionSet(['read', 'write', 'rename', 'delete']))).toBe('dfrw');
    expect(permFact(dir, ['d'], permissionSet(['mkdir', 'list']))).toBe('elm');
    expect(permFact(dir, ['d'], permissionSet(['rmdir']))).toBe('de');
  });
});
