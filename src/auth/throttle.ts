/**
 * Per-address bans after repeated failed logins (fail2ban inside the server): `failures` failed logins
 * from one address within `windowMs` ban it for `durationMs`. One table serves every listener of a
 * server, so failures count across connections and ports.
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

export class LoginThrottle {
  /** Address -> times of its recent failures (at most `failures - 1` of them; the next one bans). */
  private readonly failures = new Map<string, number[]>();
  /** Address -> end of its ban. Insertion order is expiry order (every ban lasts as long). */
  private readonly bans = new Map<string, number>();

  constructor(
    readonly policy: BanPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** When the address's ban ends (ms since the epoch), or undefined when it is not banned. */
  bannedUntil(address: string): number | undefined {
    const until = this.bans.get(address);
    if (until === undefined) return undefined;
    if (until <= this.now()) {
      this.bans.delete(address);
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
    const cutoff = now - this.policy.windowMs;
    const times = (this.failures.get(address) ?? []).filter((t) => t > cutoff);
    times.push(now);
    this.failures.delete(address);
    if (times.length >= this.policy.failures) {
      const until = now + this.policy.durationMs;
      this.bans.delete(address);
      this.bans.set(address, until);
      trim(this.bans, this.policy.maxEntries);
      return until;
    }
    this.failures.set(address, times);
    trim(this.failures, this.policy.maxEntries);
    return undefined;
  }

  /**
   * Takes over the bans and failure counts of `previous` (a reload with a new policy): bans in force keep
   * their end, counts go on; entries beyond this policy's `maxEntries` are forgotten, the oldest first.
   */
  adopt(previous: LoginThrottle): void {
    for (const [address, until] of previous.bans) this.bans.set(address, until);
    for (const [address, times] of previous.failures) this.failures.set(address, times.slice(-Math.max(this.policy.failures - 1, 0)));
    trim(this.bans, this.policy.maxEntries);
    trim(this.failures, this.policy.maxEntries);
  }

  /**
   * Bans `address` until `until` (a ban started elsewhere: another worker of a cluster); a ban already
   * in force that ends later stays as it is.
   */
  impose(address: string, until: number): void {
    if (until <= this.now() || (this.bans.get(address) ?? 0) >= until) return;
    this.bans.delete(address);
    this.bans.set(address, until);
    this.failures.delete(address);
    trim(this.bans, this.policy.maxEntries);
  }

  /** Lifts a ban and forgets the address's failures (for operators). */
  unban(address: string): void {
    this.bans.delete(address);
    this.failures.delete(address);
  }

  /** Entries held now (for monitoring and tests). */
  get size(): { failures: number; bans: number } {
    return { failures: this.failures.size, bans: this.bans.size };
  }

  /** Drops expired entries from the front of both maps (they are in update order). */
  private sweep(now: number): void {
    for (const [address, until] of this.bans) {
      if (until > now) break;
      this.bans.delete(address);
    }
    const cutoff = now - this.policy.windowMs;
    for (const [address, times] of this.failures) {
      if (times[times.length - 1]! > cutoff) break;
      this.failures.delete(address);
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
