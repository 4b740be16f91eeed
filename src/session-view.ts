/**
 * A read-only view of a server's live sessions, for dashboards and admin tools (`server.sessions` of
 * the embedding API, the admin console, a cluster worker's answers to its primary). Each `Session`
 * reads the connection's state when asked (never a stale copy) and can disconnect it; the connection
 * object itself stays internal.
 */
import type { Connection } from './connection.js';
import { formatReply, reply } from './base/reply.js';
import { Code } from './base/reply-codes.js';
import { formatPath } from './base/virtual-path.js';

/** A running transfer, as an embedder sees it. */
export interface TransferState {
  /** `upload` (STOR, APPE, STOU) or `download` (RETR, or a listing when `path` is undefined). */
  readonly direction: 'download' | 'upload';
  /** The file (`/dir/name`), undefined for a listing or before the file is opened. */
  readonly path: string | undefined;
  /** Bytes moved so far. */
  readonly bytes: number;
  /** When it started. */
  readonly startedAt: Date;
  /** Bytes per second since it started. */
  readonly rate: number;
  /** Bytes it will move, when known (a download of a file: its size, or what REST/RANG leave of it). */
  readonly expectedSize: number | undefined;
}

/** One client session, as an embedder sees it. */
export interface Session {
  /** The session id (in every log line of the session and in its events). */
  readonly id: string;
  /** The client's address (after a PROXY protocol header, when trusted). */
  readonly remoteAddress: string;
  /** The logged-in user; undefined before login (and after REIN). */
  readonly user: string | undefined;
  /** TLS is on for the control connection (AUTH TLS or implicit FTPS, and no CCC since). */
  readonly secure: boolean;
  /** Data connection protection: `private` (PROT P: TLS) or `clear` (PROT C). */
  readonly dataProtection: 'clear' | 'private';
  /** Arrived on an implicit FTPS listener. */
  readonly implicit: boolean;
  /** When the connection was accepted. */
  readonly connectedAt: Date;
  /** A transfer (download, listing or upload) is running. */
  readonly transferring: boolean;
  /** Bytes sent and received over data connections so far (listings count as sent), the running transfer included. */
  readonly bytes: { readonly sent: number; readonly received: number };
  /** The session has ended (the view keeps its last state). */
  readonly closed: boolean;
  /** The working directory (`/` before login). */
  readonly cwd: string;
  /** The running transfer, or undefined. */
  readonly transfer: TransferState | undefined;
  /**
   * The client certificate the control connection presented (client certificates asked for): its
   * subject (RFC 4514), SHA-256 fingerprint, and whether it verified. Undefined when none was presented.
   */
  readonly certificate: SessionCertificate | undefined;
  /**
   * Ends the session: sends `421 <reason>` (default `Disconnected by the server.`), stops a running
   * transfer (its client gets 426) and closes the connection. Resolves when it is closed.
   */
  disconnect(reason?: string): Promise<void>;
}

/** A session's client certificate, as the session view shows it. */
export interface SessionCertificate {
  readonly subject: string;
  readonly fingerprint: string;
  readonly verified: boolean;
}

/** The live sessions: iterable, and by id. */
export interface SessionList extends Iterable<Session> {
  /** Sessions open now. */
  readonly size: number;
  get(id: string): Session | undefined;
  /** A snapshot of the sessions open now. */
  list(): Session[];
}

class SessionView implements Session {
  constructor(private readonly conn: Connection) {}

  get id(): string {
    return this.conn.id;
  }
  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }
  get user(): string | undefined {
    return this.conn.session.user?.name;
  }
  get secure(): boolean {
    return this.conn.secure;
  }
  get dataProtection(): 'clear' | 'private' {
    return this.conn.session.prot === 'P' ? 'private' : 'clear';
  }
  get implicit(): boolean {
    return this.conn.implicit;
  }
  get connectedAt(): Date {
    return new Date(this.conn.connectedAt.getTime());
  }
  get transferring(): boolean {
    return this.conn.transferring;
  }
  get bytes(): { sent: number; received: number } {
    return this.conn.totalBytes;
  }
  get closed(): boolean {
    return this.conn.ended;
  }
  get certificate(): SessionCertificate | undefined {
    const cert = this.conn.session.clientCert;
    return cert ? { subject: cert.subject, fingerprint: cert.fingerprint, verified: cert.verified } : undefined;
  }
  get cwd(): string {
    return formatPath(this.conn.session.cwd);
  }
  get transfer(): TransferState | undefined {
    const t = this.conn.transferProgress;
    if (!t) return undefined;
    const seconds = Math.max((Date.now() - t.started) / 1000, 0.001);
    return { direction: t.direction, path: t.path && formatPath(t.path), bytes: t.bytes, startedAt: new Date(t.started), rate: Math.round(t.bytes / seconds), expectedSize: t.expectedSize };
  }

  async disconnect(reason = 'Disconnected by the server.'): Promise<void> {
    const conn = this.conn;
    if (!conn.ended) {
      conn.log.info({ reason }, 'disconnected by the server');
      // The reply is best effort: a connection that cannot take it is closed all the same.
      await Promise.race([conn.channel.write(formatReply(reply(Code.serviceUnavailable, reason))).catch(() => {}), new Promise((r) => setTimeout(r, 1000).unref())]);
      conn.destroy();
    }
    await conn.closed;
  }

  toJSON(): object {
    const { id, remoteAddress, user, secure, dataProtection, implicit, connectedAt, transferring, bytes, closed, certificate, cwd, transfer } = this;
    return { id, remoteAddress, user, secure, dataProtection, implicit, connectedAt, transferring, bytes, closed, ...(certificate ? { certificate } : {}), cwd, transfer };
  }
}

/** The view over a server's session map (by id); views are made once per connection. */
export class Sessions implements SessionList {
  private readonly views = new WeakMap<Connection, SessionView>();

  constructor(private readonly source: () => ReadonlyMap<string, Connection> | undefined) {}

  private view(conn: Connection): Session {
    let v = this.views.get(conn);
    if (!v) {
      v = new SessionView(conn);
      this.views.set(conn, v);
    }
    return v;
  }

  /** Open connections (a connection leaves the server's map a little after its `disconnect` event). */
  private open(): Connection[] {
    return [...(this.source()?.values() ?? [])].filter((c) => !c.ended);
  }

  get size(): number {
    return this.open().length;
  }

  get(id: string): Session | undefined {
    const conn = this.source()?.get(id);
    return conn && !conn.ended ? this.view(conn) : undefined;
  }

  list(): Session[] {
    return [...this];
  }

  *[Symbol.iterator](): Iterator<Session> {
    for (const conn of this.open()) yield this.view(conn);
  }
}
