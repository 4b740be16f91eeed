/**
 * A worker's view of the sessions of the other workers, from the snapshots the primary relays: what
 * the session caps add to this worker's own counts (FtpServer.peers). Eventually consistent: a snapshot
 * is at most a few milliseconds old while sessions come and go, and one second old after a REIN.
 */
import type { PeerSessions } from '../server.js';
import type { SessionSnapshot } from './messages.js';

interface Counts {
  sessions: number;
  addresses: Map<string, number>;
  users: Map<string, number>;
}

export class PeerSessionCounts implements PeerSessions {
  /** By worker slot (a replaced worker's snapshot replaces its predecessor's). */
  private readonly bySlot = new Map<number, Counts>();

  /** Takes worker `slot`'s latest snapshot (an empty one when it is gone). */
  set(slot: number, snapshot: SessionSnapshot): void {
    if (snapshot.sessions === 0) {
      this.bySlot.delete(slot);
      return;
    }
    this.bySlot.set(slot, { sessions: snapshot.sessions, addresses: new Map(snapshot.addresses), users: new Map(snapshot.users) });
  }

  get sessions(): number {
    let n = 0;
    for (const c of this.bySlot.values()) n += c.sessions;
    return n;
  }

  sessionsFrom(address: string): number {
    let n = 0;
    for (const c of this.bySlot.values()) n += c.addresses.get(address) ?? 0;
    return n;
  }

  userSessions(user: string): number {
    let n = 0;
    for (const c of this.bySlot.values()) n += c.users.get(user) ?? 0;
    return n;
  }
}

/** This worker's sessions as a snapshot for the others. */
export function snapshotOf(sessions: Iterable<{ remoteAddress: string; session: { user?: { name: string } | undefined } }>): SessionSnapshot {
  const addresses = new Map<string, number>();
  const users = new Map<string, number>();
  let n = 0;
  for (const conn of sessions) {
    n++;
    addresses.set(conn.remoteAddress, (addresses.get(conn.remoteAddress) ?? 0) + 1);
    const user = conn.session.user?.name;
    if (user !== undefined) users.set(user, (users.get(user) ?? 0) + 1);
  }
  return { sessions: n, addresses: [...addresses], users: [...users] };
}
