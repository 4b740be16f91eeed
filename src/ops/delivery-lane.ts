/**
 * One lane of the delivery queue: the deliveries of one hook or one webhook, so a target that hangs
 * only holds up its own lane. Inside a lane every user has a queue of their own, served in turn (round
 * robin), and when the lane is full a user with fewer deliveries waiting takes the place of the newest
 * delivery of the user with the most: one user's flood cannot push out another user's events, it only
 * pushes out its own.
 */

/** A user's share is counted under this name when an event has no user (never a real user name: it has a space). */
export const NO_USER = ' none';

export interface LaneEntry<D> {
  delivery: D;
  user: string;
  attempts: number;
  timer?: NodeJS.Timeout;
}

export class Lane<D> {
  /** Queued (not running, not waiting for a retry), per user; iteration order is the turn order. */
  private readonly queued = new Map<string, LaneEntry<D>[]>();
  /** Queued or waiting for a retry, per user (the share that counts when the lane is full). */
  private readonly shares = new Map<string, number>();
  private queuedCount = 0;
  readonly waiting = new Set<LaneEntry<D>>();
  running = 0;

  /** Queued and waiting for a retry. */
  get pending(): number {
    return this.queuedCount + this.waiting.size;
  }

  get hasQueued(): boolean {
    return this.queuedCount > 0;
  }

  /**
   * Makes room for `user` in a full lane: takes out the newest queued delivery of the user with the
   * largest share, if that share is larger than `user`'s would be with this one. Returns it (the caller
   * reports it dropped), or undefined: the new delivery is the one to drop.
   */
  evictFor(user: string): LaneEntry<D> | undefined {
    const mine = (this.shares.get(user) ?? 0) + 1;
    let hog: string | undefined;
    let most = 0;
    for (const [u, n] of this.shares) {
      if (n > most && this.queued.get(u)?.length) {
        hog = u;
        most = n;
      }
    }
    if (hog === undefined || hog === user || most <= mine) return undefined;
    const entry = this.queued.get(hog)!.pop()!;
    this.queuedCount--;
    this.unshare(hog);
    if (this.queued.get(hog)!.length === 0) this.queued.delete(hog);
    return entry;
  }

  /** A new delivery, or one whose retry is due (it no longer waits). */
  enqueue(entry: LaneEntry<D>, fresh: boolean): void {
    const list = this.queued.get(entry.user);
    if (list) list.push(entry);
    else this.queued.set(entry.user, [entry]);
    this.queuedCount++;
    if (fresh) this.shares.set(entry.user, (this.shares.get(entry.user) ?? 0) + 1);
  }

  /** The next delivery to run: the first user in turn gives one and goes to the back of the line. */
  next(): LaneEntry<D> | undefined {
    const first = this.queued.entries().next();
    if (first.done) return undefined;
    const [user, list] = first.value;
    const entry = list.shift()!;
    this.queued.delete(user);
    if (list.length > 0) this.queued.set(user, list);
    this.queuedCount--;
    return entry;
  }

  /** A delivery that ran will not be retried: its share is released. */
  finished(entry: LaneEntry<D>): void {
    this.unshare(entry.user);
  }

  /** Everything queued, taken out (drain deadline). */
  takeAll(): LaneEntry<D>[] {
    const all = [...this.queued.values()].flat();
    this.queued.clear();
    this.queuedCount = 0;
    for (const entry of all) this.unshare(entry.user);
    return all;
  }

  private unshare(user: string): void {
    const n = (this.shares.get(user) ?? 0) - 1;
    if (n > 0) this.shares.set(user, n);
    else this.shares.delete(user);
  }
}
