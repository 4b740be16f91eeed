/**
 * File names as listings show them. A name on disk may hold any byte but `/` and NUL, including CR and
 * LF: written as is, it would add lines to a LIST/NLST/MLSD listing (a forged entry) or to a STAT/MLST
 * reply. Control characters (C0, DEL, C1) and the Unicode line and paragraph separators become `?`, as
 * vsftpd does; the same set that reply text turns into spaces (base/reply.ts). Such an entry is shown
 * but cannot be named by a client in return: its real name is not what the listing says.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

export function safeName(name: string): string {
  return name.replace(UNSAFE, '?');
}
