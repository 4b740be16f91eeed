/**
 * The network a login ban counts and bans: a client's address cut to the policy's prefix length, so that
 * one IPv6 /64 (which one host or one customer usually gets whole) is one entry, not 2^64 fresh addresses.
 * Keys are `ADDRESS/PREFIX` with the host bits zeroed (`2001:db8:1:2::/64`), or the address alone at full
 * length (`192.0.2.7`). IPv4-mapped IPv6 addresses count as IPv4.
 */
import { isIP } from 'node:net';
import { normalizeAddress } from '../base/address.js';

export interface BanPrefixes {
  /** Bits of an IPv4 address that name the banned network (32: the address itself). */
  ipv4Prefix: number;
  /** Bits of an IPv6 address that name the banned network (64: the customer's /64). */
  ipv6Prefix: number;
}

/** The ban key of `address` (or of a key `ADDRESS/PREFIX`, re-cut to these prefixes); other text as is. */
export function banNetwork(address: string, prefixes: BanPrefixes): string {
  const canonical = normalizeAddress(address.replace(/\/\d{1,3}$/, ''));
  const version = isIP(canonical);
  if (version === 4) {
    const prefix = prefixes.ipv4Prefix;
    if (prefix >= 32) return canonical;
    const bytes = mask(canonical.split('.').map(Number), 8, prefix);
    return `${bytes.join('.')}/${prefix}`;
  }
  if (version === 6) {
    const prefix = prefixes.ipv6Prefix;
    if (prefix >= 128) return canonical;
    const groups = mask(ipv6Groups(canonical), 16, prefix);
    return `${normalizeAddress(groups.map((g) => g.toString(16)).join(':'))}/${prefix}`;
  }
  return address;
}

/** The eight 16-bit groups of a canonical IPv6 address (hex groups, at most one `::`). */
function ipv6Groups(address: string): number[] {
  const [head = '', tail] = address.split('::');
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const first = part(head);
  const last = tail === undefined ? [] : part(tail);
  return [...first, ...new Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/** Keeps the first `prefix` bits of `units` (each `width` bits wide), zeroing the rest. */
function mask(units: number[], width: number, prefix: number): number[] {
  return units.map((unit, i) => {
    const keep = Math.min(Math.max(prefix - i * width, 0), width);
    return keep === 0 ? 0 : unit & ~((1 << (width - keep)) - 1) & ((1 << width) - 1);
  });
}
