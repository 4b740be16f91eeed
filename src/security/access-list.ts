/**
 * Allow and deny lists of networks, checked when a connection is accepted: a denied address is refused
 * (deny wins), and when an allow list is set only its networks may connect.
 *
 * Networks are CIDR (`192.0.2.0/24`, `2001:db8::/32`) or single addresses. Addresses are compared in
 * one canonical form: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack listener
 * reports for IPv4 clients) is the IPv4 address, both as a peer and in a rule (`::ffff:10.0.0.0/104`
 * is `10.0.0.0/8`), so one rule covers both spellings.
 */
import { BlockList, isIP, isIPv4 } from 'node:net';
import { normalizeAddress } from '../base/address.js';

export interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses `ADDRESS[/PREFIX]`; throws an Error with a plain-language message. */
export function parseNetwork(text: string): Network {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash < 0 ? undefined : trimmed.slice(slash + 1);
  const version = isIP(addressText);
  if (version === 0) throw new Error(`"${text}" is not a network: expected an address or CIDR like 192.0.2.0/24 or 2001:db8::/32`);
  const bits = version === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      throw new Error(`"${text}": the prefix length must be a whole number from 0 to ${bits}`);
    }
    prefix = Number(prefixText);
  }
  if (version === 6) {
    // IPv4-mapped (::ffff:a.b.c.d/96+) is the IPv4 network.
    const mapped = normalizeAddress(addressText);
    if (isIPv4(mapped) && prefix >= 96) return { address: mapped, prefix: prefix - 96, family: 'ipv4' };
    return { address: isIPv4(mapped) ? addressText : mapped, prefix, family: 'ipv6' };
  }
  return { address: addressText, prefix, family: 'ipv4' };
}

function blockList(networks: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of networks) {
    const n = parseNetwork(text);
    list.addSubnet(n.address, n.prefix, n.family);
  }
  return list;
}

export class AccessList {
  private readonly allow: BlockList | undefined;
  private readonly deny: BlockList | undefined;

  /** Throws on a malformed network. Empty lists mean: no allow list (everyone), nothing denied. */
  constructor(allow: readonly string[], deny: readonly string[]) {
    this.allow = allow.length > 0 ? blockList(allow) : undefined;
    this.deny = deny.length > 0 ? blockList(deny) : undefined;
  }

  /** Whether `address` (any spelling: IPv4-mapped, zone id) may connect. */
  allows(address: string): boolean {
    const canonical = normalizeAddress(address);
    const version = isIP(canonical);
    if (version === 0) return false;
    const family = version === 4 ? 'ipv4' : 'ipv6';
    if (this.deny?.check(canonical, family)) return false;
    if (this.allow && !this.allow.check(canonical, family)) return false;
    return true;
  }
}
