/**
 * The address strings of PORT, EPRT, PASV and EPSV (RFC 959, RFC 2428): strict parsers (fuzzed) and
 * formatters. Parsers return undefined for anything malformed; policy checks live elsewhere.
 */
import { isIP, isIPv4 } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** PORT h1,h2,h3,h4,p1,p2 */
export function parsePort(arg: string): HostPort | undefined {
  const parts = arg.trim().split(',');
  if (parts.length !== 6) return undefined;
  const nums: number[] = [];
  for (const p of parts) {
    const t = p.trim();
    if (!/^\d{1,3}$/.test(t)) return undefined;
    const n = Number(t);
    if (n > 255) return undefined;
    nums.push(n);
  }
  const port = nums[4]! * 256 + nums[5]!;
  if (port === 0) return undefined;
  return { host: nums.slice(0, 4).join('.'), port };
}

/** EPRT |1|132.235.1.2|6275| or |2|::1|6275| (any printable delimiter, RFC 2428). */
export function parseEprt(arg: string): (HostPort & { family: 4 | 6 }) | undefined {
  const s = arg.trim();
  if (s.length < 7) return undefined;
  const d = s[0]!;
  const code = d.charCodeAt(0);
  if (code < 33 || code > 126) return undefined;
  const parts = s.split(d);
  // ['', proto, host, port, '']
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, proto, host, portText] = parts as [string, string, string, string, string];
  if (proto !== '1' && proto !== '2') return undefined;
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  const family = proto === '1' ? 4 : 6;
  if (isIP(host) !== family) return undefined;
  return { host, port, family };
}

/** EPSV with no argument, a protocol number (1 or 2), or ALL. */
export function parseEpsv(arg: string): { kind: 'any' } | { kind: 'all' } | { kind: 'family'; family: 4 | 6 } | undefined {
  const s = arg.trim();
  if (s === '') return { kind: 'any' };
  if (s.toUpperCase() === 'ALL') return { kind: 'all' };
  if (s === '1') return { kind: 'family', family: 4 };
  if (s === '2') return { kind: 'family', family: 6 };
  return undefined;
}

export function formatPasv(host: string, port: number): string {
  return `Entering Passive Mode (${host.split('.').join(',')},${port >> 8},${port & 255}).`;
}

export function formatEpsv(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|).`;
}

/**
 * A canonical form for comparing addresses: IPv4-mapped IPv6 becomes IPv4 (dual-stack sockets), IPv6 is
 * compressed and lower-cased (EPRT may spell `::1` as `0:0:0:0:0:0:0:1`), zone ids are dropped.
 */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  const bare = address.replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (isIP(bare) !== 6) return bare.toLowerCase();
  const canonical = new URL(`http://[${bare}]`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const hi = parseInt(mapped[1]!, 16);
    const lo = parseInt(mapped[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return canonical;
}

export function sameHost(a: string | undefined, b: string | undefined): boolean {
  const na = normalizeAddress(a);
  return na !== '' && na === normalizeAddress(b);
}

/** A range of TCP ports, both ends included (the passive ports). */
export interface PortRange {
  min: number;
  max: number;
}
