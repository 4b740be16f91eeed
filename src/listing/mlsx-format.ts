/**
 * MLSD / MLST facts (RFC 3659 section 7): `type`, `size`, `modify`, `perm`, `unique`, `UNIX.mode`,
 * each shown only when selected with OPTS MLST (all by default). Fact names are case-insensitive.
 */
import type { Permissions } from '../auth/permissions.js';
import type { FileStat } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import { safeName } from './safe-name.js';

/** The facts ftpsd knows, in the spelling FEAT and OPTS MLST use. */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'UNIX.mode'] as const;

/** The last second formatted by `timeVal` (entries of one directory often share it). */
let lastSecond = NaN;
let lastTimeVal = '';

/** YYYYMMDDHHMMSS in UTC (RFC 3659 time-val), as MDTM and the modify fact use. */
export function timeVal(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second === lastSecond) return lastTimeVal;
  const iso = date.toISOString(); // 2026-11-28T23:40:05.123Z (or +/-YYYYYY-... outside years 0-9999)
  const text = iso.length === 24 ? iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19) : iso.replace(/[-:T]/g, '').slice(0, 14);
  if (Number.isFinite(second)) {
    lastSecond = second;
    lastTimeVal = text;
  }
  return text;
}

/**
 * Permissions for the entries of one listed directory: when nothing below `dir` has rules of its own
 * (`uniformBelow`), every entry has the permissions of `dir` itself, asked once per operation instead of
 * several times per entry.
 */
export function permsWithin(perms: Permissions, dir: VirtualPath): Permissions {
  if (!perms.uniformBelow?.(dir)) return perms;
  const known = new Map<string, boolean>();
  return {
    allows(op) {
      let ok = known.get(op);
      if (ok === undefined) known.set(op, (ok = perms.allows(op, dir)));
      return ok;
    },
    uniformBelow: () => true,
  };
}

/** RFC 3659 7.5.5: what the user may do with the entry. */
export function permFact(st: FileStat, path: VirtualPath, perms: Permissions): string {
  let out = '';
  if (st.type === 'dir') {
    if (perms.allows('write', [...path, 'x'])) out += 'c';
    if (perms.allows('delete', path) || perms.allows('rmdir', path)) out += 'd';
    out += 'e';
    if (perms.allows('rename', path) && perms.allows('delete', path) && perms.allows('rmdir', path)) out += 'f'; // as RNFR
    if (perms.allows('list', path)) out += 'l';
    if (perms.allows('mkdir', [...path, 'x'])) out += 'm';
    if (perms.allows('delete', [...path, 'x'])) out += 'p';
  } else {
    if (perms.allows('append', path)) out += 'a';
    if (perms.allows('delete', path)) out += 'd';
    if (perms.allows('rename', path) && perms.allows('delete', path)) out += 'f'; // RNFR takes it away
    if (perms.allows('read', path)) out += 'r';
    if (perms.allows('write', path) && perms.allows('delete', path)) out += 'w'; // STOR onto it replaces it
  }
  return out;
}

/**
 * The facts of one entry followed by a space and the name: `type=file;size=3;... name` (control
 * characters in the name become `?`).
 * `facts` holds the selected fact names in lower case.
 */
export function mlsxLine(st: FileStat, path: VirtualPath, perms: Permissions, facts: ReadonlySet<string>, typeOverride?: string): string {
  return factLine(st, facts, facts.has('perm') ? permFact(st, path, perms) : '', typeOverride);
}

/** `mlsxLine` with the perm fact given. */
function factLine(st: FileStat, facts: ReadonlySet<string>, perm: string, typeOverride?: string): string {
  let out = '';
  if (facts.has('type')) out += `type=${typeOverride ?? st.type};`;
  if (facts.has('size') && st.type === 'file') out += `size=${st.size};`;
  if (facts.has('modify')) out += `modify=${timeVal(st.mtime)};`;
  if (facts.has('perm')) out += `perm=${perm};`;
  if (facts.has('unique') && st.unique !== undefined) out += `unique=${st.unique};`;
  if (facts.has('unix.mode') && st.mode !== undefined) out += `UNIX.mode=0${(st.mode & 0o7777).toString(8)};`;
  return `${out} ${safeName(st.name)}`;
}

/**
 * The MLSD line of each entry of `dir` (as `mlsxLine`). When nothing below `dir` has rules of its own,
 * an entry's `perm` fact depends only on its type: it is worked out once per type, and no entry path is
 * built.
 */
export function mlsdLineFor(perms: Permissions, dir: VirtualPath, facts: ReadonlySet<string>): (st: FileStat) => string {
  if (!facts.has('perm')) return (st) => factLine(st, facts, '');
  if (!perms.uniformBelow?.(dir)) return (st) => mlsxLine(st, [...dir, st.name], perms, facts);
  const within = permsWithin(perms, dir);
  const perm: Partial<Record<FileStat['type'], string>> = {};
  return (st) => factLine(st, facts, (perm[st.type] ??= permFact(st, [...dir, st.name], within)));
}
