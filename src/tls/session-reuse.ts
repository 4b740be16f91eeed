/**
 * Binding protected data connections to their own control connection (RFC 4217 section 10 and the
 * "data connection stealing" attack): a data connection is accepted only if it resumed a TLS session
 * that was issued on this session's control connection.
 *
 * How: the control connection's TLSSocket gets a `SessionBinder` as its `server`, so Node reports every
 * TLS 1.3 ticket it issues through `newSession`. A TLS 1.2 session is not reported when it is carried in
 * a ticket (OpenSSL gives it no session id, so it never reaches the session cache callbacks), so the
 * binder also takes the control connection's own session once its handshake is done (`adopt()`), as it
 * does the session a resumed control handshake resumed (TLS 1.2 or 1.3: see `adopt()` for why). The
 * binder keeps a digest of each one's master secret (the ticket's resumption PSK in TLS 1.3). A resumed
 * data connection carries the same master secret, so `owns()` can tell whether it resumed one of ours -
 * a ticket taken from another control connection (even of the same client address) does not match.
 *
 * TLS 1.2 clients that turn tickets off (curl does) resume by session id, which needs a server-side
 * session cache. Each binder is that cache for its own control connection only: it keeps the few
 * sessions issued with an id, and a data connection's TLSSocket gets `dataServer` as its `server`, which
 * answers `resumeSession` from them. Sessions issued on data connections are never recorded.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { DerReader } from './der.js';

const MAX_SESSIONS = 16;

export class SessionBinder {
  private readonly digests: string[] = [];
  /** Sessions issued with a session id (TLS 1.2 without tickets), by hex id. */
  private readonly byId = new Map<string, Buffer>();

  /** Node asks before enabling its session callbacks. */
  listenerCount(event: string): number {
    return event === 'newSession' ? 1 : 0;
  }

  /** Node calls `emit('newSession', id, sessionDer, done)` on the control socket's server. */
  emit(event: string, ...args: unknown[]): boolean {
    if (event !== 'newSession') return false;
    const [id, session, done] = args as [Buffer, Buffer, () => void];
    this.remember(session);
    if (id.length > 0) {
      this.byId.set(id.toString('hex'), session);
      if (this.byId.size > MAX_SESSIONS) this.byId.delete(this.byId.keys().next().value!);
    }
    done();
    return true;
  }

  /** What a data connection's TLSSocket gets as its `server`: resumes this control connection's session ids. */
  private readonly dataSide = {
    listenerCount: (event: string): number => (event === 'resumeSession' ? 1 : 0),
    emit: (event: string, ...args: unknown[]): boolean => {
      if (event !== 'resumeSession') return false;
      const [id, callback] = args as [Buffer, (err: Error | null, session: Buffer | null) => void];
      callback(null, this.byId.get(id.toString('hex')) ?? null);
      return true;
    },
  };

  /**
   * The `server` option of the control connection's TLSSocket. Node types it as a net.Server but only
   * calls `listenerCount` and `emit` on it (the session callbacks): the binder has just those.
   */
  controlServer(): Server {
    return this as unknown as Server;
  }

  /** The `server` option of a data connection's TLSSocket (see `controlServer`). */
  dataServer(): Server {
    return this.dataSide as unknown as Server;
  }

  /**
   * Takes the session of a finished control handshake: the TLS 1.2 session, and the session a resumed
   * TLS 1.3 handshake resumed. (A full TLS 1.3 handshake's sessions come as tickets, via `newSession`.)
   *
   * A resumed handshake is issued no new ticket: OpenSSL sends one after a TLS 1.3 resumption only when
   * the ticket key callback asks to renew the ticket, and Node's never does (a plain tls.Server behaves
   * the same, so it is not the binder; a TLS 1.2 resumption keeps its session anyway). Without this, a
   * control connection that resumed another connection's ticket, as clients sharing one session cache do
   * (rclone, Go), would own no session and refuse every data connection. Accepting the session it
   * resumed is as safe as accepting the tickets of a full handshake:
   * - Resuming proves knowledge of the session's secret (the TLS 1.3 PSK binder, the TLS 1.2 Finished
   *   messages). That secret went only to the client of the connection the ticket was issued on, inside
   *   its TLS; a ticket seen on the wire (TLS 1.2 tickets and TLS 1.3 ticket identities travel in clear)
   *   is useless without it. So whoever can present this session on a data connection is the client that
   *   resumed it on this control connection, or a party that client shared its secrets with, which could
   *   as well have resumed it on a control connection of its own (and could already take the first
   *   connection's transfers).
   * - The rule stays "exactly this session": a data connection of this control connection that resumes a
   *   different session of the first connection (TLS 1.3 issues two tickets) is still refused, and no
   *   other control connection gains anything: the session is owned here in addition, not moved.
   * - Sessions issued on data connections are never recorded, so a ticket given to whoever completed a
   *   refused handshake on a data connection never binds anything; resuming it on a control connection
   *   binds only that new control connection, which still has to log in.
   */
  adopt(control: TLSSocket): void {
    if (control.getProtocol() === 'TLSv1.3' && !control.isSessionReused()) return;
    const session = control.getSession();
    if (session) this.remember(session);
  }

  private remember(session: Buffer): void {
    const digest = masterKeyDigest(session);
    if (digest === undefined || this.digests.includes(digest)) return;
    this.digests.push(digest);
    if (this.digests.length > MAX_SESSIONS) this.digests.shift();
  }

  /** Whether any session of the control connection is known (issued on it, or resumed by it). */
  knowsAny(): boolean {
    return this.digests.length > 0;
  }

  /** Whether `data` resumed a session issued on the control connection this binder watches. */
  owns(data: TLSSocket): boolean {
    if (!data.isSessionReused()) return false;
    const session = data.getSession();
    const digest = session ? masterKeyDigest(session) : undefined;
    return digest !== undefined && this.digests.includes(digest);
  }
}

/**
 * Reads the master key from an OpenSSL SSL_SESSION in DER form:
 * SEQUENCE { version INTEGER, sslVersion INTEGER, cipher OCTET STRING, sessionId OCTET STRING,
 * masterKey OCTET STRING, ... }. Returns a digest, so secrets are not kept.
 */
export function masterKeyDigest(der: Buffer): string | undefined {
  const reader = new DerReader(der);
  const outer = reader.header();
  if (!outer || outer.tag !== 0x30) return undefined;
  const expected = [0x02, 0x02, 0x04, 0x04, 0x04];
  for (let field = 0; field < expected.length; field++) {
    const h = reader.header();
    if (!h || h.tag !== expected[field] || reader.pos + h.len > der.length) return undefined;
    if (field === 4) {
      if (h.len === 0) return undefined;
      return createHash('sha256').update(der.subarray(reader.pos, reader.pos + h.len)).digest('base64');
    }
    reader.pos += h.len;
  }
  return undefined;
}
