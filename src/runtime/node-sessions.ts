/**
 * This node's part in the cluster-wide session list (with a user database): publishes the node's live
 * sessions to the registry (userdb/session-registry.ts) every two seconds while it has any (an idle node
 * writes nothing) and soon after a session opens, logs in or closes, and ends one of its sessions when an admin on another node asks (421
 * `Disconnected by an administrator.`). Each row is the session as the admin API shows it (the fields of
 * admin/routes.ts's sessionJson), made here from the connection, since the console is a floor above.
 */
import type { Connection } from '../connection.js';
import { formatPath } from '../base/virtual-path.js';
import type { Logger } from '../logger.js';
import type { FtpServer } from '../server.js';
import { PUBLISH_EVERY_MS, type PublishedSession, type SessionRegistry } from '../userdb/session-registry.js';
import type { ChangeListener } from '../userdb/listener.js';

/** The 421 a session ended from another node's console gets (the same as from this node's). */
export const ENDED_BY_ADMIN = 'Disconnected by an administrator.';
const SOON_MS = 100;

/** A session as the admin API shows it. */
export function sessionInfo(conn: Connection): Record<string, unknown> {
  const t = conn.transferProgress;
  const seconds = t ? Math.max((Date.now() - t.started) / 1000, 0.001) : 1;
  return {
    id: conn.id,
    user: conn.session.user?.name ?? null,
    peer: conn.remoteAddress,
    since: conn.connectedAt.toISOString(),
    tls: { control: conn.secure, dataProtection: conn.session.prot === 'P' ? 'private' : 'clear', implicit: conn.implicit },
    cwd: formatPath(conn.session.cwd),
    bytes: conn.totalBytes,
    transfer: t
      ? { direction: t.direction, path: t.path ? formatPath(t.path) : null, bytes: t.bytes, rate: Math.round(t.bytes / seconds), startedAt: new Date(t.started).toISOString(), expectedSize: t.expectedSize ?? null }
      : null,
  };
}

export class NodeSessions {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private publishing: Promise<void> | undefined;
  private closed = false;
  /** The last publish had no session (an idle node writes nothing until one opens). */
  private idle = false;

  constructor(
    private readonly server: FtpServer,
    private readonly registry: SessionRegistry,
    listener: ChangeListener,
    private readonly log: Logger,
  ) {
    listener.on('endSession', (node, id) => {
      if (node === registry.node) void this.end(id);
    });
    server.events.on('connect', () => this.publishSoon());
    server.events.on('login', () => this.publishSoon());
    server.events.on('disconnect', () => this.publishSoon());
    this.timer = setInterval(() => void this.publish(), PUBLISH_EVERY_MS);
    this.timer.unref();
  }

  private publishSoon(): void {
    if (this.soon || this.closed) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.publish();
    }, SOON_MS);
    this.soon.unref();
  }

  /** Publishes now (one at a time; errors are the listener's to report: the database is down). */
  async publish(): Promise<void> {
    if (this.closed) return;
    if (this.publishing) return this.publishing;
    const rows: PublishedSession[] = [...this.server.sessions.values()].filter((c) => !c.ended).map((c) => ({ id: c.id, info: sessionInfo(c) }));
    if (rows.length === 0 && this.idle) return;
    this.publishing = this.registry
      .publish(rows)
      .then(() => void (this.idle = rows.length === 0))
      .catch(() => undefined)
      .finally(() => (this.publishing = undefined));
    return this.publishing;
  }

  private async end(id: string): Promise<void> {
    const conn = this.server.sessions.get(id);
    if (!conn || conn.ended) return;
    this.log.info({ session: id, user: conn.session.user?.name, peer: conn.remoteAddress }, 'session ended at the request of an admin on another node');
    await conn.end(ENDED_BY_ADMIN);
    this.publishSoon();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    await this.publishing;
    await this.registry.clear().catch(() => undefined);
  }
}
