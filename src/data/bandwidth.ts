/**
 * Bandwidth limits: token buckets (bytes per second, a burst of a quarter second) and a Transform that
 * passes each chunk on once every bucket it is charged to allows it, waiting with a timer (no polling,
 * no busy loop). A chunk is charged at once (a bucket may go below zero) and released after the
 * longest of the buckets' waits, so buckets shared by several transfers (the server-wide cap) share the
 * rate fairly by arrival. Backpressure does the rest: a download's writes wait, an upload's socket is
 * read no faster than the limit, so TCP slows the client.
 *
 * Limits, per direction (`limits` in the config, reloadable for new transfers): per session
 * (`sessionDownloadBytesPerSecond`, `sessionUploadBytesPerSecond`) and for the whole process
 * (`serverDownloadBytesPerSecond`, `serverUploadBytesPerSecond`); 0 is no limit.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private readonly burst: number;

  constructor(readonly bytesPerSecond: number) {
    this.burst = Math.max(16 * 1024, bytesPerSecond / 4);
    this.tokens = this.burst;
  }

  /** Charges `n` bytes; returns how long (ms) the caller must wait before sending them. */
  charge(n: number): number {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.bytesPerSecond;
  }
}

/** A pass-through stream that holds each chunk until `buckets` allow it (an empty list: no limit). */
export function throttle(buckets: readonly TokenBucket[]): Transform {
  let timer: NodeJS.Timeout | undefined;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      let wait = 0;
      for (const b of buckets) wait = Math.max(wait, b.charge(chunk.length));
      if (wait < 1) {
        done(null, chunk);
        return;
      }
      timer = setTimeout(() => {
        timer = undefined;
        done(null, chunk);
      }, wait);
    },
    destroy(err, callback) {
      if (timer) clearTimeout(timer);
      callback(err);
    },
  });
}

export interface BandwidthLimits {
  sessionDownloadBytesPerSecond: number;
  sessionUploadBytesPerSecond: number;
  serverDownloadBytesPerSecond: number;
  serverUploadBytesPerSecond: number;
}

/** The buckets of one user's bandwidth object (the sessions of the user share it; a reload makes a new one). */
const userBuckets = new WeakMap<object, { download?: TokenBucket; upload?: TokenBucket }>();

/** The server-wide buckets of one set of limits (a reload's new limits get new buckets). */
const serverBuckets = new WeakMap<object, { download?: TokenBucket; upload?: TokenBucket }>();

/**
 * The buckets a transfer in `direction` is charged to: the session's own (`session`, made and kept by
 * the caller per session) and the server's, for `limits`.
 */
export function bucketsFor(
  limits: BandwidthLimits,
  direction: 'download' | 'upload',
  session: { download?: TokenBucket; upload?: TokenBucket },
  user?: { readonly downloadBytesPerSecond?: number | undefined; readonly uploadBytesPerSecond?: number | undefined },
): TokenBucket[] {
  const out: TokenBucket[] = [];
  const userRate = (direction === 'download' ? user?.downloadBytesPerSecond : user?.uploadBytesPerSecond) ?? 0;
  if (user && userRate > 0) {
    let shared = userBuckets.get(user);
    if (!shared) userBuckets.set(user, (shared = {}));
    shared[direction] ??= new TokenBucket(userRate);
    out.push(shared[direction]!);
  }
  const sessionRate = direction === 'download' ? limits.sessionDownloadBytesPerSecond : limits.sessionUploadBytesPerSecond;
  if (sessionRate > 0) {
    if (session[direction]?.bytesPerSecond !== sessionRate) session[direction] = new TokenBucket(sessionRate);
    out.push(session[direction]!);
  }
  const serverRate = direction === 'download' ? limits.serverDownloadBytesPerSecond : limits.serverUploadBytesPerSecond;
  if (serverRate > 0) {
    let shared = serverBuckets.get(limits);
    if (!shared) serverBuckets.set(limits, (shared = {}));
    shared[direction] ??= new TokenBucket(serverRate);
    out.push(shared[direction]!);
  }
  return out;
}
