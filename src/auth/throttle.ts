/**
 * Per-network bans after repeated failed logins (fail2ban inside the server): `failures` failed logins
 * from one network within `windowMs` ban it for `durationMs`. A network is the client's address cut to
 * `ipv4Prefix` / `ipv6Prefix` bits (by default the IPv4 address itself and the IPv6 /64: one IPv6
 * client has a whole /64 of fresh addresses); see ban-network.ts. Callers pass addresses. One table
 * serves every listener of a server, so failures count across connections and ports.
 *
 * Memory is bounded: failure counters and bans live in two maps of at most `maxEntries` each, kept in
 * least-recently-updated order, so expired entries are swept from the front as new ones arrive and, when
 * a map is full, the oldest entry goes. Spraying failures from many addresses can only push out other
 * counters, never a ban. No timers: expiry is checked when an entry is read or swept.
 *
 * A successful login changes nothing: it neither ends a ban nor forgets earlier failures (otherwise one
 * valid account would let an attacker reset the count while guessing another's password).
 */
import type { BanPolicy } from '../settings.js';
import { banNetwork } from './ban-network.js';

export class LoginThrottle {
  /** Network -> times of its recent failures (at most `failures - 1` of them; the next one bans). */
  private readonly failures = new Map<string, number[]>();
  /** Network -> end of its ban. Insertion order is expiry order (every ban lasts as long). */
  private readonly bans = new Map<string, number>();

  constructor(
    readonly policy: BanPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** The network `address` counts for: `2001:db8:1:2::/64`, or the address itself at full length. */
  networkOf(address: string): string {
    return banNetwork(address, this.policy);
  }

  /** When the ban of the address's network ends (ms since the epoch), or undefined when it is not banned. */
  bannedUntil(address: string): number | undefined {
    const key = this.networkOf(address);
    const until = this.bans.get(key);
    if (until === undefined) return undefined;
    if (until <= this.now()) {
      this.bans.delete(key);
      return undefined;
    }
    return until;
  }

  /**
   * Counts a failed login from `address`. Returns the end of the ban when this failure started one;
   * failures of an address already banned change nothing.
   */
  recordFailure(address: string): number | undefined {
    const now = this.now();
    this.sweep(now);
    if (this.bannedUntil(address) !== undefined) return undefined;
    const key = this.networkOf(address);
    const cutoff = now - this.policy.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    times.push(now);
    this.failures.delete(key);
    if (times.length >= this.policy.failures) {
      const until = now + this.policy.durationMs;
      this.bans.delete(key);
      this.bans.set(key, until);
      trim(this.bans, this.policy.maxEntries);
      return until;
    }
    this.failures.set(key, times);
    trim(this.failures, this.policy.maxEntries);
    return undefined;
  }

  /**
   * Takes over the bans and failure counts of `previous` (a reload with a new policy): bans in force keep
   * their end, counts go on; entries beyond this policy's `maxEntries` are forgotten, the oldest first.
   * With new prefix lengths each entry moves to the network its address falls in now (bans merge to the
   * latest end, failures add up).
   */
  adopt(previous: LoginThrottle): void {
    for (const [network, until] of previous.bans) {
      const key = this.networkOf(network);
      this.bans.set(key, Math.max(until, this.bans.get(key) ?? 0));
    }
    for (const [network, times] of previous.failures) {
      const key = this.networkOf(network);
      const merged = [...(this.failures.get(key) ?? []), ...times].sort((a, b) => a - b);
      this.failures.set(key, merged.slice(-Math.max(this.policy.failures - 1, 0)));
    }
    trim(this.bans, this.policy.maxEntries);
    trim(this.failures, this.policy.maxEntries);
  }

  /**
   * Bans `address` until `until` (a ban started elsewhere: another worker of a cluster); a ban already
   * in force that ends later stays as it is.
   */
  impose(address: string, until: number): void {
    const key = this.networkOf(address);
    if (until <= this.now() || (this.bans.get(key) ?? 0) >= until) return;
    this.bans.delete(key);
    this.bans.set(key, until);
    this.failures.delete(key);
    trim(this.bans, this.policy.maxEntries);
  }

  /** Lifts the ban of the address's network (or of a network as `networkOf` names it) and forgets its failures (for operators). */
  unban(address: string): void {
    const key = this.networkOf(address);
    this.bans.delete(key);
    this.failures.delete(key);
  }

  /** The bans in force: network and end (ms since the epoch), soonest end first (for operators). */
  list(): { network: string; until: number }[] {
    this.sweep(this.now());
    return [...this.bans].map(([network, until]) => ({ network, until }));
  }

  /** Entries (networks) held now (for monitoring and tests). */
  get size(): { failures: number; bans: number } {
    return { failures: this.failures.size, bans: this.bans.size };
  }

  /** Drops expired entries from the front of both maps (they are in update order). */
  private sweep(now: number): void {
    for (const [network, until] of this.bans) {
      if (until > now) break;
      this.bans.delete(network);
    }
    const cutoff = now - this.policy.windowMs;
    for (const [network, times] of this.failures) {
      if (times[times.length - 1]! > cutoff) break;
      this.failures.delete(network);
    }
  }
}

/** Forgets the oldest entries until the map holds at most `max`. */
function trim(map: Map<string, unknown>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}
