/**
 * Room for connections that have not logged in: they get at most `maxUnauthenticated` of the server's
 * `maxSessions`. When that pool (or the whole server) is full, the oldest connection still waiting to
 * log in is pushed out to make room for the new one, so a flood of idle connections that never log in
 * cannot lock out logged-in sessions nor new logins (each flood connection only lasts until newer ones
 * arrive). Logged-in sessions are never pushed out.
 *
 * The counts are kept as sessions change (each reports its changes: a login, a logout by REIN or USER,
 * the start of its end), so an admission costs the same with 10 sessions or 100,000; the pool also counts
 * the sessions of each user (the `maxSessionsPerUser` check at login).
 */
import type { Limits } from '../settings.js';

export interface PoolMember {
  /** Not logged in (yet, or again after REIN). */
  readonly unauthenticated: boolean;
  /** Already on its way out (not counted in `live`). */
  readonly closing: boolean;
  /** The user logged in (counted in `userSessions` until the member leaves, closing or not). */
  readonly userName: string | undefined;
}

export interface Room<M> {
  /** Sessions open (closing ones left out). */
  live: number;
  /** The connection to push out before admitting a new one; undefined: there is room (or none to push). */
  evict: M | undefined;
}

export class LoginPool<M extends PoolMember> {
  /** Members that joined and did not leave (closing ones too). */
  private readonly members = new Set<M>();
  /** Members not closing, in the order they joined (oldest first). */
  private readonly live = new Set<M>();
  /** Live members waiting to log in; oldest first unless `unordered`. */
  private waiting = new Set<M>();
  /** A member came back to `waiting` (REIN, USER after a login): its place is by when it joined. */
  private unordered = false;
  /** The user each member is counted for, and the count of each user. */
  private readonly userOf = new Map<M, string>();
  private readonly perUser = new Map<string, number>();

  /** A new session (admitted). */
  join(m: M): void {
    this.members.add(m);
    if (m.closing) return this.update(m);
    this.live.add(m);
    // The newest member: its place in `waiting` is the last one.
    if (m.unauthenticated) this.waiting.add(m);
    this.update(m);
  }

  /** `m` logged in, out, or started closing. */
  update(m: M): void {
    if (!this.members.has(m)) return;
    const user = m.userName;
    const counted = this.userOf.get(m);
    if (counted !== user) {
      if (counted !== undefined) this.uncount(m, counted);
      if (user !== undefined) {
        this.userOf.set(m, user);
        this.perUser.set(user, (this.perUser.get(user) ?? 0) + 1);
      }
    }
    if (!this.live.has(m)) return; // closing: for good
    if (m.closing) {
      this.live.delete(m);
      this.waiting.delete(m);
    } else if (!m.unauthenticated) {
      this.waiting.delete(m);
    } else if (!this.waiting.has(m)) {
      if (this.waiting.size > 0) this.unordered = true;
      this.waiting.add(m);
    }
  }

  /** The session ended (it counts no more, not even for its user). */
  leave(m: M): void {
    this.members.delete(m);
    this.live.delete(m);
    this.waiting.delete(m);
    const counted = this.userOf.get(m);
    if (counted !== undefined) this.uncount(m, counted);
  }

  private uncount(m: M, user: string): void {
    this.userOf.delete(m);
    const n = (this.perUser.get(user) ?? 1) - 1;
    if (n > 0) this.perUser.set(user, n);
    else this.perUser.delete(user);
  }

  /** Sessions logged in as `user` (closing ones too, until they leave). */
  userSessions(user: string): number {
    return this.perUser.get(user) ?? 0;
  }

  /** Room for one more session. `others`: sessions held elsewhere (cluster peers). */
  room(limits: Pick<Limits, 'maxSessions' | 'maxUnauthenticated'>, others = 0): Room<M> {
    const live = this.live.size;
    const full = this.waiting.size >= limits.maxUnauthenticated || live + others >= limits.maxSessions;
    return { live, evict: full ? this.oldestWaiting() : undefined };
  }

  private oldestWaiting(): M | undefined {
    if (this.unordered) {
      const waiting = this.waiting;
      this.waiting = new Set();
      for (const m of this.live) if (waiting.has(m)) this.waiting.add(m);
      this.unordered = false;
    }
    for (const m of this.waiting) return m;
    return undefined;
  }
}
