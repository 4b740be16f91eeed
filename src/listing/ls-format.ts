/**
 * LIST lines in the `ls -l` form every client parses (FileZilla, WinSCP, curl, lftp, basic-ftp):
 * `-rw-r--r--   1 ftp      ftp          1234 Nov 28 20:03 name`, dates in UTC, the year instead of the
 * time for dates more than six months old or in the future.
 */
import type { FileStat } from '../storage/storage.js';
import { safeName } from './safe-name.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY_MS = 86_400_000;
const SIX_MONTHS_MS = 182 * DAY_MS;

function modeString(st: FileStat): string {
  const mode = st.mode ?? (st.type === 'dir' ? 0o755 : 0o644);
  let out = st.type === 'dir' ? 'd' : '-';
  const rwx = 'rwxrwxrwx';
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? rwx[i] : '-';
  return out;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function lsDate(mtime: Date, now: number): string {
  const month = MONTHS[mtime.getUTCMonth()]!;
  const day = String(mtime.getUTCDate()).padStart(2, ' ');
  const t = mtime.getTime();
  // As ls: the time for the past six months, else the year. A client that gets no year picks the one that
  // puts the date in the past, so a date in the future (beyond a day of clock skew) must show its year.
  if (t > now - SIX_MONTHS_MS && t < now + DAY_MS) {
    return `${month} ${day} ${pad2(mtime.getUTCHours())}:${pad2(mtime.getUTCMinutes())}`;
  }
  return `${month} ${day}  ${mtime.getUTCFullYear()}`;
}

function column(value: string, width: number): string {
  return value.length >= width ? value : value + ' '.repeat(width - value.length);
}

/** One `ls -l` line (without line end); control characters in the name become `?`. */
export function lsLine(st: FileStat, now: number = Date.now()): string {
  const links = String(st.nlink ?? 1).padStart(4, ' ');
  const owner = column(safeName(st.owner ?? 'ftp'), 8);
  const group = column(safeName(st.group ?? 'ftp'), 8);
  const size = String(st.size).padStart(12, ' ');
  return `${modeString(st)} ${links} ${owner} ${group} ${size} ${lsDate(st.mtime, now)} ${safeName(st.name)}`;
}
