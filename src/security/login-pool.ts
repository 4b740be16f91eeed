/**
 * Room for connections that have not logged in: they get at most `maxUnauthenticated` of the server's
 * `maxSessions`. When that pool (or the whole server) is full, the oldest connection still waiting to
 * log in is pushed out to make room for the new one, so a flood of idle connections that never log in
 * cannot lock out logged-in sessions nor new logins (each flood connection only lasts until newer ones
 * arrive). Logged-in sessions are never pushed out.
 */
import type { Limits } from '../settings.js';

export interface PoolMember {
  /** Not logged in (yet, or again after REIN). */
  readonly unauthenticated: boolean;
  /** Already on its way out (not counted). */
  readonly closing: boolean;
}

export interface Room<M> {
  /** Sessions open (closing ones left out). */
  live: number;
  /** The connection to push out before admitting a new one; undefined: there is room (or none to push). */
  evict: M | undefined;
}

/** `members` in the order they connected (oldest first). `others`: sessions held elsewhere (cluster peers). */
export function roomFor<M extends PoolMember>(members: Iterable<M>, limits: Pick<Limits, 'maxSessions' | 'maxUnauthenticated'>, others = 0): Room<M> {
  let live = 0;
  let waiting = 0;
  let oldest: M | undefined;
  for (const m of members) {
    if (m.closing) continue;
    live++;
    if (!m.unauthenticated) continue;
    waiting++;
    oldest ??= m;
  }
  const full = waiting >= limits.maxUnauthenticated || live + others >= limits.maxSessions;
  return { live, evict: full ? oldest : undefined };
}
