/**
 * The address PASV advertises, for servers behind NAT or in containers: one address for everyone, or a
 * list of rules by client network (first match wins; a rule without a network matches everyone). An
 * address is an IPv4 address or a host name, resolved when a PASV needs it (IPv4, cached for a short
 * while; on failure the last good answer, else the control connection's own address), so a dynamic DNS
 * name follows the public address without a restart.
 *
 * Also here: the check that warns when a client with a public address would be sent to a private,
 * loopback or otherwise unroutable address (a missing `pasvAddress` behind NAT, the classic cause of
 * "directory listing hangs").
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, isIPv4 } from 'node:net';
import { AccessList } from './access-list.js';
import { normalizeAddress } from '../base/address.js';
import type { PortRange } from '../base/address.js';

export interface PasvAddressRule {
  /** The client network (CIDR) this rule is for; none: every client. */
  network?: string;
  /** An IPv4 address, or a host name resolved (IPv4) when a PASV needs it. */
  address: string;
}

export interface PasvAddressOptions {
  /** Resolves a host name to an IPv4 address (default: the system resolver). */
  lookup?: (host: string) => Promise<string>;
  /** How long a resolved name is reused (default 30 s). */
  cacheMs?: number;
  /** How long a failed lookup is not retried (default 5 s). */
  retryMs?: number;
  /** Longest wait for the resolver (default 2 s). */
  lookupTimeoutMs?: number;
  now?: () => number;
}

export interface AdvertisedAddress {
  /** The address to advertise; undefined: the control connection's local address. */
  address: string | undefined;
  /** Set when a host name could not be resolved just now (to log; at most once per `retryMs`). */
  error?: string;
}

const HOST_NAME = /^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** Checks one advertised address: an IPv4 address or a host name. Throws with a plain message. */
export function checkPasvAddress(address: string): void {
  if (isIPv4(address)) return;
  if (isIP(address) === 6) throw new Error(`"${address}" is IPv6: PASV replies carry IPv4 only (IPv6 clients use EPSV)`);
  if (/^[\d.]+$/.test(address) || !HOST_NAME.test(address)) throw new Error(`"${address}" is not an IPv4 address or a host name`);
}

interface Rule {
  network: AccessList | undefined;
  address: string;
  /** A host name, resolved at PASV time. */
  name: boolean;
}

interface CacheEntry {
  address: string | undefined;
  /** Until when `address` is fresh (or, after a failure, until when not to retry). */
  until: number;
  failed: boolean;
  pending?: Promise<void>;
}

export class PasvAddresses {
  private readonly rules: Rule[];
  private readonly cache = new Map<string, CacheEntry>();
  private readonly lookup: (host: string) => Promise<string>;
  private readonly now: () => number;

  /** Throws on a malformed network or address. */
  constructor(
    /** The configuration as given (a single address, or rules). */
    readonly spec: string | readonly PasvAddressRule[],
    private readonly options: PasvAddressOptions = {},
  ) {
    const rules = typeof spec === 'string' ? [{ address: spec }] : spec;
    this.rules = rules.map((r) => {
      checkPasvAddress(r.address);
      return { network: r.network === undefined ? undefined : new AccessList([r.network], []), address: r.address, name: !isIPv4(r.address) };
    });
    this.lookup = options.lookup ?? defaultLookup;
    this.now = options.now ?? Date.now;
  }

  /** Whether some rule applies to `client` (else PASV uses the control connection's local address). */
  matches(client: string): boolean {
    return this.rules.some((r) => !r.network || r.network.allows(client));
  }

  /** The address to advertise to `client`. Never throws. */
  async addressFor(client: string): Promise<AdvertisedAddress> {
    const rule = this.rules.find((r) => !r.network || r.network.allows(client));
    if (!rule) return { address: undefined };
    if (!rule.name) return { address: rule.address };
    return this.resolve(rule.address);
  }

  private async resolve(host: string): Promise<AdvertisedAddress> {
    let entry = this.cache.get(host);
    const now = this.now();
    if (entry && entry.until > now) return { address: entry.address };
    if (!entry) {
      entry = { address: undefined, until: 0, failed: false };
      this.cache.set(host, entry);
    }
    const e = entry;
    let error: string | undefined;
    e.pending ??= this.lookupWithTimeout(host)
      .then((address) => {
        e.address = address;
        e.failed = false;
        e.until = this.now() + (this.options.cacheMs ?? 30_000);
      })
      .catch((err: unknown) => {
        // Keep the last good answer (if any), and do not ask again for a while.
        error = `cannot resolve ${host}: ${(err as Error).message}`;
        e.failed = true;
        e.until = this.now() + (this.options.retryMs ?? 5_000);
      })
      .finally(() => {
        e.pending = undefined;
      });
    await e.pending;
    return { address: e.address, ...(error ? { error } : {}) };
  }

  private lookupWithTimeout(host: string): Promise<string> {
    const ms = this.options.lookupTimeoutMs ?? 2000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    });
    return Promise.race([this.lookup(host), timeout]).finally(() => clearTimeout(timer));
  }
}

async function defaultLookup(host: string): Promise<string> {
  const { address } = await dnsLookup(host, { family: 4 });
  return address;
}

/** The advertised port for a listened one: the same offset in the advertised range (port mapping). */
export function advertisedPort(port: number, listened: PortRange | undefined, advertised: PortRange | undefined): number {
  if (!listened || !advertised) return port;
  return advertised.min + (port - listened.min);
}

/** Checks that an advertised range can mirror the listened one; throws with a plain message. */
export function checkAdvertisedPorts(listened: PortRange | undefined, advertised: PortRange): void {
  if (!listened) throw new Error('needs pasvPorts (the listened range it maps)');
  if (advertised.max - advertised.min !== listened.max - listened.min) {
    throw new Error(`must have as many ports as pasvPorts (${listened.max - listened.min + 1})`);
  }
}

const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

/**
 * Whether `address` is reachable from the internet at large: not private (RFC 1918, ULA), loopback,
 * link-local, shared (CGNAT), unspecified, multicast or reserved.
 */
export function isPublicAddress(address: string): boolean {
  const a = normalizeAddress(address);
  const v = isIP(a);
  if (v === 0) return false;
  return !NOT_PUBLIC.check(a, v === 4 ? 'ipv4' : 'ipv6');
}
