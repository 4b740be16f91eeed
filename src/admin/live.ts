/**
 * Live data of the admin console: a tick every second that measures throughput (bytes moved by the open
 * sessions since the last tick), a history of the last hour (one point per 10 s: sessions, bytes/s), and
 * Server-Sent Events to every subscriber of `GET /api/events` (`sessions` each second while any is open
 * and at each connect and disconnect, `bans` when they change, `point` for each new history point).
 * Sessions come from a SessionSource (in cluster mode: every worker, over IPC); one request at a time.
 */
import type { ServerResponse } from 'node:http';
import type { SessionInfo, SessionSource } from '../runtime/session-directory.js';

export interface HistoryPoint {
  /** ms since the epoch. */
  t: number;
  sessions: number;
  /** Average bytes per second (sent and received) over the point's 10 s. */
  bytesPerSecond: number;
}

const POINT_MS = 10_000;
const HISTORY_POINTS = 360;
/** Subscribers held at most; more are refused (503). */
export const MAX_SUBSCRIBERS = 50;

export class LiveFeed {
  private readonly subscribers = new Set<ServerResponse>();
  private readonly last = new Map<string, number>();
  private readonly history: HistoryPoint[] = [];
  private pointBytes = 0;
  private pointStart = Date.now();
  private readonly timer: NodeJS.Timeout;
  private hadSessions = false;
  /** The sessions as last read. */
  private current: SessionInfo[] = [];
  /** The read running now, and whether another is wanted after it. */
  private reading: Promise<void> | undefined;
  private again = false;
  private readonly stopChanges: () => void;

  constructor(private readonly source: SessionSource) {
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    // A session opened or closed: every subscriber gets the new list.
    this.stopChanges = source.onChange(() => this.read(true));
  }

  get points(): HistoryPoint[] {
    return [...this.history];
  }

  /** Starts an event stream on `res`; false when too many are open. */
  subscribe(res: ServerResponse): boolean {
    if (this.subscribers.size >= MAX_SUBSCRIBERS) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.write('retry: 2000\n\n');
    this.subscribers.add(res);
    res.once('close', () => this.subscribers.delete(res));
    this.sendTo(res, 'sessions', this.current);
    this.read(true);
    return true;
  }

  /** Sends an event to every subscriber. */
  publish(event: string, data: unknown): void {
    for (const res of this.subscribers) this.sendTo(res, event, data);
  }

  private sendTo(res: ServerResponse, event: string, data: unknown): void {
    // A subscriber that does not read is dropped rather than buffered without end.
    if (res.writableLength > 1024 * 1024) {
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.pointStart >= POINT_MS) {
      const point = { t: now, sessions: this.current.length, bytesPerSecond: Math.round((this.pointBytes * 1000) / (now - this.pointStart)) };
      this.history.push(point);
      if (this.history.length > HISTORY_POINTS) this.history.shift();
      this.pointBytes = 0;
      this.pointStart = now;
      this.publish('point', point);
    }
    // Asked only while there may be sessions or someone watches.
    if (this.subscribers.size > 0 || this.hadSessions || this.source.active?.() !== false) this.read(this.subscribers.size > 0 && (this.current.length > 0 || this.hadSessions));
    // A comment keeps proxies from closing an idle stream.
    for (const res of this.subscribers) res.write(': tick\n\n');
  }

  /** Reads the sessions (one read at a time; a call during a read asks for one more), counts the bytes moved, and publishes them if asked. */
  private read(publish: boolean): void {
    if (this.reading) {
      this.again ||= publish;
      return;
    }
    this.reading = this.source
      .list()
      .then(({ sessions }) => {
        this.count(sessions);
        if (publish) this.publish('sessions', sessions);
      })
      .catch(() => undefined)
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.read(true);
        }
      });
  }

  private count(sessions: SessionInfo[]): void {
    let moved = 0;
    const seen = new Set<string>();
    for (const s of sessions) {
      const total = s.bytes.sent + s.bytes.received;
      moved += Math.max(0, total - (this.last.get(s.id) ?? 0));
      this.last.set(s.id, total);
      seen.add(s.id);
    }
    for (const id of this.last.keys()) if (!seen.has(id)) this.last.delete(id);
    this.pointBytes += moved;
    this.hadSessions = this.current.length > 0;
    this.current = sessions;
  }

  close(): void {
    clearInterval(this.timer);
    this.stopChanges();
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
  }
}
