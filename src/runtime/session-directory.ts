/**
 * Where the admin console gets its sessions: one small interface, `SessionSource` (list, end, changes).
 * A single process answers from its own server (`LocalSessions`); the cluster's primary asks its
 * workers over IPC (src/cluster/cluster-sessions.ts); other nodes sharing a user database can plug in
 * a source of their own, and `combineSources` puts several behind one. Sessions cross processes as
 * plain JSON (`SessionInfo`).
 */
import { Sessions, type Session } from '../session-view.js';
import type { FtpServer } from '../server.js';

/** A session as the admin console shows it (plain JSON). */
export interface SessionInfo {
  id: string;
  user: string | null;
  peer: string;
  since: string;
  tls: { control: boolean; dataProtection: 'clear' | 'private'; implicit: boolean };
  cwd: string;
  bytes: { sent: number; received: number };
  transfer: { direction: 'download' | 'upload'; path: string | null; bytes: number; rate: number; startedAt: string; expectedSize: number | null } | null;
  /** The cluster worker serving it (cluster mode only). */
  worker?: number;
  /** The node serving it, when that is another node on the user database (admin/other-nodes.ts). */
  node?: string;
}

export interface SessionListing {
  sessions: SessionInfo[];
  /** The parts that did not answer in time (`worker 2`): their sessions are missing from the list. */
  unavailable: string[];
}

/** `unavailable`: the part that holds the session did not answer in time. */
export type EndResult = 'ended' | 'not-found' | 'unavailable';

export interface SessionSource {
  /** Every live session this source knows. */
  list(): Promise<SessionListing>;
  /** Ends a session: its client gets `421 reason`; resolves once it is closed (or not found). */
  end(id: string, reason: string): Promise<EndResult>;
  /** Calls `listener` when a session opens or closes (at once or a little later); returns what stops it. */
  onChange(listener: () => void): () => void;
  /** False when there surely is no session (the live feed then does not ask); absent: always ask. */
  active?(): boolean;
}

export function sessionInfo(s: Session): SessionInfo {
  const t = s.transfer;
  return {
    id: s.id,
    user: s.user ?? null,
    peer: s.remoteAddress,
    since: s.connectedAt.toISOString(),
    tls: { control: s.secure, dataProtection: s.dataProtection, implicit: s.implicit },
    cwd: s.cwd,
    bytes: { sent: s.bytes.sent, received: s.bytes.received },
    transfer: t ? { direction: t.direction, path: t.path ?? null, bytes: t.bytes, rate: t.rate, startedAt: t.startedAt.toISOString(), expectedSize: t.expectedSize ?? null } : null,
  };
}

/** The sessions of one server in this process. */
export class LocalSessions implements SessionSource {
  private readonly view: Sessions;

  constructor(private readonly server: FtpServer) {
    this.view = new Sessions(() => server.sessions);
  }

  /** Synchronous: a cluster worker answers its primary from this. */
  now(): SessionInfo[] {
    return this.view.list().map(sessionInfo);
  }

  list(): Promise<SessionListing> {
    return Promise.resolve({ sessions: this.now(), unavailable: [] });
  }

  async end(id: string, reason: string): Promise<EndResult> {
    const s = this.view.get(id);
    if (!s) return 'not-found';
    await s.disconnect(reason);
    return 'ended';
  }

  onChange(listener: () => void): () => void {
    const { events } = this.server;
    // A connection leaves the server's map a little after its disconnect event.
    const later = () => setImmediate(listener);
    events.on('connect', listener);
    events.on('disconnect', later);
    return () => {
      events.off('connect', listener);
      events.off('disconnect', later);
    };
  }
}

/** Several sources as one: lists merged, an end tried on each until one holds the session. */
export function combineSources(sources: readonly SessionSource[]): SessionSource {
  return {
    async list() {
      const parts = await Promise.all(sources.map((s) => s.list()));
      return { sessions: parts.flatMap((p) => p.sessions), unavailable: parts.flatMap((p) => p.unavailable) };
    },
    async end(id, reason) {
      let result: EndResult = 'not-found';
      for (const s of sources) {
        const r = await s.end(id, reason);
        if (r === 'ended') return r;
        if (r === 'unavailable') result = r;
      }
      return result;
    },
    onChange(listener) {
      const stops = sources.map((s) => s.onChange(listener));
      return () => stops.forEach((stop) => stop());
    },
    active() {
      return sources.some((s) => s.active?.() ?? true);
    },
  };
}
