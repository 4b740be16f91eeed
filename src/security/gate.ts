/**
 * The admission check at accept, before a byte is read or written: access lists, login bans, and the
 * global and per-address session caps. A refused connection gets one plaintext `421` line on an explicit
 * listener (nothing on an implicit one: TLS has not started, so closing is the only honest answer) and
 * is closed; no TLS handshake, no greeting, no session.
 *
 * One gate serves every listener of a server. Refusals are logged with the address, at most once a
 * minute for each reason and address, so a client hammering the port cannot flood the log.
 */
import type { Socket } from 'node:net';
import { LoginThrottle } from '../auth/throttle.js';
import type { Logger } from '../logger.js';
import type { BanPolicy, ServerSettings } from '../settings.js';
import { AccessList } from './access-list.js';

export type RefusalReason = 'denied' | 'banned' | 'server-full' | 'address-full' | 'prelogin-full';

/** The fixed reply line of each refusal. */
export const REFUSALS: Readonly<Record<RefusalReason, string>> = {
  denied: '421 Access denied.',
  banned: '421 Too many failed logins from your address; try again later.',
  'server-full': '421 Too many sessions on this server (maxSessions); try again later.',
  'address-full': '421 Too many sessions from your address (maxSessionsPerAddress); try again later.',
  /** Sent to the oldest connection waiting to log in when it is pushed out for a new one. */
  'prelogin-full': '421 Too many connections waiting to log in (maxUnauthenticated); try again later.',
};

const LOG_EVERY_MS = 60_000;
const LOG_KEYS = 1000;
/** A refused socket that does not close on its own is destroyed after this. */
const REFUSE_LINGER_MS = 2000;

export class ConnectionGate {
  /** The ban table; undefined when bans are off. */
  throttle: LoginThrottle | undefined;
  private access: AccessList;
  private readonly perAddress = new Map<string, number>();
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  /** Throws on a malformed network in the access lists. */
  constructor(
    private settings: ServerSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const { ban, allow, deny } = settings.security;
    this.throttle = ban ? new LoginThrottle(ban, now) : undefined;
    this.access = new AccessList(allow, deny);
  }

  /**
   * Checks new settings (throws on a malformed network) and returns the function that switches to them
   * (it cannot fail): new access lists, caps and ban policy for the next connection. Open sessions stay
   * counted, and bans in force (and failure counts) carry over unless bans are turned off.
   */
  prepare(settings: ServerSettings): () => void {
    const { ban, allow, deny } = settings.security;
    const access = new AccessList(allow, deny);
    return () => {
      const previous = this.throttle;
      let throttle: LoginThrottle | undefined;
      if (ban && previous && samePolicy(ban, previous.policy)) throttle = previous;
      else if (ban) {
        throttle = new LoginThrottle(ban, this.now);
        if (previous) throttle.adopt(previous);
      }
      this.settings = settings;
      this.access = access;
      this.throttle = throttle;
    };
  }

  /**
   * Admits a new connection from `address` (canonical form) while `sessions` are open, and counts it
   * (call `release` when it ends), or says why not. `others`: sessions from the same address held
   * elsewhere (other workers of a cluster), counted in the per-address cap.
   */
  admit(address: string, sessions: number, others = 0): RefusalReason | undefined {
    const reason = this.check(address, sessions, others);
    if (reason) {
      this.logRefusal(reason, address);
      return reason;
    }
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    return undefined;
  }

  release(address: string): void {
    const n = (this.perAddress.get(address) ?? 0) - 1;
    if (n > 0) this.perAddress.set(address, n);
    else this.perAddress.delete(address);
  }

  /** Sessions open from `address`. */
  sessionsFrom(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  private check(address: string, sessions: number, others: number): RefusalReason | undefined {
    const { limits } = this.settings;
    if (!this.access.allows(address)) return 'denied';
    if (this.throttle?.bannedUntil(address) !== undefined) return 'banned';
    if (sessions >= limits.maxSessions) return 'server-full';
    if (this.sessionsFrom(address) + others >= limits.maxSessionsPerAddress) return 'address-full';
    return undefined;
  }

  /** A connection waiting to log in was pushed out for a new one (logged like a refusal, rate-limited). */
  noteEviction(address: string): void {
    this.logRefusal('prelogin-full', address);
  }

  private logRefusal(reason: RefusalReason, address: string): void {
    const key = reason === 'server-full' || reason === 'prelogin-full' ? reason : `${reason} ${address}`;
    const now = this.now();
    const last = this.lastLogged.get(key);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.suppressed++;
      this.log.debug({ peer: address, reason }, 'connection refused');
      return;
    }
    this.lastLogged.delete(key);
    this.lastLogged.set(key, { at: now, suppressed: 0 });
    if (this.lastLogged.size > LOG_KEYS) this.lastLogged.delete(this.lastLogged.keys().next().value!);
    const fields = { peer: address, reason, ...(last?.suppressed ? { alsoRefused: last.suppressed } : {}) };
    if (reason === 'denied') this.log.info(fields, 'connection refused');
    else this.log.warn(fields, 'connection refused');
  }
}

function samePolicy(a: BanPolicy, b: BanPolicy): boolean {
  return (Object.keys(a) as (keyof BanPolicy)[]).every((k) => a[k] === b[k]);
}

/** Sends the refusal line (explicit listeners only) and closes the socket. */
export function refuse(socket: Socket, reason: RefusalReason, implicit: boolean): void {
  const timer = setTimeout(() => socket.destroy(), REFUSE_LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  // Whatever the client sends (a TLS ClientHello, commands) is read and dropped, never parsed.
  socket.resume();
  if (implicit) socket.end();
  else socket.end(REFUSALS[reason] + '\r\n');
}
