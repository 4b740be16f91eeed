/**
 * Who may use the admin console: the accounts of `admin.users` (argon2id hashes, read anew at every
 * login so a reload applies), browser sessions (a random cookie value) and bearer tokens (shown once;
 * revocable). Failed logins count in the FTP server's ban table, and a banned address cannot log in here
 * either.
 *
 * Without a user database, sessions and tokens are kept in memory (only a token's SHA-256). With one
 * (`db`), the database's admins (`ftpsd admin add`) log in too, and sessions and tokens are kept there,
 * as SHA-256 only, so any node accepts them and they outlive a restart; a name in both the config file
 * and the database is refused (and stops the start, runtime/serve-admin.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { hashPassword, secretEquals, verifyHash } from '../auth/password.js';
import type { AdminStore } from '../userdb/admin-store.js';
import { fromDb } from './http.js';

/** A browser session lasts this long from login. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** Sessions and tokens held at most (the oldest go first). */
const MAX_ENTRIES = 1000;
/** A hash to verify against when the name is unknown (same cost as a real check). */
let dummy: Promise<string> | undefined;
const dummyHash = () => (dummy ??= hashPassword(randomBytes(16).toString('hex')));

export interface AdminAccount {
  name: string;
  password: string;
}

export interface TokenInfo {
  id: string;
  label: string;
  admin: string;
  created: string;
}

/** The ban table admin logins are checked against and count failures in. */
export interface LoginGuard {
  bannedUntil(address: string): number | undefined;
  recordFailure(address: string): void;
}

export type LoginResult = { ok: true; cookie: string } | { ok: false; banned: boolean; busy?: boolean };

/** Password checks running at once (argon2id costs memory and CPU); more are refused (429). */
export const MAX_CONCURRENT_LOGINS = 4;

export class AdminAccounts {
  private readonly sessions = new Map<string, { admin: string; expires: number }>();
  private readonly tokens = new Map<string, TokenInfo & { hash: string }>();
  private verifying = 0;

  constructor(
    private readonly users: () => readonly AdminAccount[],
    private readonly throttle: () => LoginGuard | undefined,
    private readonly now: () => number = Date.now,
    /** The user database's admins, sessions and tokens (undefined: none configured). */
    private readonly db?: AdminStore,
  ) {}

  /** The hash of an admin account (config file, then database), or undefined; a name in both is refused. */
  private async accountHash(name: string): Promise<string | undefined> {
    const config = this.users().find((u) => u.name === name)?.password;
    if (!this.db) return config;
    const stored = await fromDb(this.db.passwordHash(name));
    if (config !== undefined && stored !== undefined) return undefined;
    return config ?? stored;
  }

  /** Whether `admin` is still an account (a removed admin's sessions and tokens stop working). */
  private async exists(admin: string): Promise<boolean> {
    return (await this.accountHash(admin)) !== undefined;
  }

  async login(name: string, password: string, address: string): Promise<LoginResult> {
    const throttle = this.throttle();
    if (throttle?.bannedUntil(address) !== undefined) return { ok: false, banned: true };
    if (this.verifying >= MAX_CONCURRENT_LOGINS) return { ok: false, banned: false, busy: true };
    let ok: boolean;
    this.verifying++;
    try {
      const hash = await this.accountHash(name);
      ok = (await verifyHash(hash ?? (await dummyHash()), password)) && hash !== undefined;
    } finally {
      this.verifying--;
    }
    if (!ok) {
      throttle?.recordFailure(address);
      return { ok: false, banned: false };
    }
    const cookie = randomBytes(32).toString('base64url');
    const expires = this.now() + SESSION_TTL_MS;
    if (this.db) {
      await fromDb(this.db.saveSession(sha256(cookie), name, expires));
    } else {
      this.sessions.set(cookie, { admin: name, expires });
      trim(this.sessions);
    }
    return { ok: true, cookie };
  }

  async logout(cookie: string): Promise<void> {
    if (this.db) await fromDb(this.db.deleteSession(sha256(cookie)));
    else this.sessions.delete(cookie);
  }

  /** The admin a cookie belongs to (while the account still exists), or undefined. */
  async fromCookie(cookie: string | undefined): Promise<string | undefined> {
    if (!cookie || !/^[A-Za-z0-9_-]{43}$/.test(cookie)) return undefined;
    if (this.db) {
      const admin = await fromDb(this.db.sessionAdmin(sha256(cookie)));
      return admin !== undefined && (await this.exists(admin)) ? admin : undefined;
    }
    const s = this.sessions.get(cookie);
    if (!s) return undefined;
    if (s.expires <= this.now() || !(await this.exists(s.admin))) {
      this.sessions.delete(cookie);
      return undefined;
    }
    return s.admin;
  }

  /** A new token for `admin`: its value is returned once (`ftpsd_ID_SECRET`). */
  async createToken(admin: string, label: string): Promise<TokenInfo & { token: string }> {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const info: TokenInfo = { id, label, admin, created: new Date(this.now()).toISOString() };
    if (this.db) {
      await fromDb(this.db.saveToken(info, sha256(secret)));
    } else {
      this.tokens.set(id, { ...info, hash: sha256(secret) });
      trim(this.tokens);
    }
    return { ...info, token: `ftpsd_${id}_${secret}` };
  }

  /** The admin a bearer token belongs to, or undefined. */
  async fromToken(token: string | undefined): Promise<string | undefined> {
    const m = /^ftpsd_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(token ?? '');
    if (!m) return undefined;
    const t = this.db ? await fromDb(this.db.token(m[1]!)) : this.tokens.get(m[1]!);
    if (!t || !secretEquals(t.hash, sha256(m[2]!))) return undefined;
    return (await this.exists(t.admin)) ? t.admin : undefined;
  }

  async listTokens(): Promise<TokenInfo[]> {
    if (this.db) return fromDb(this.db.tokens());
    return [...this.tokens.values()].map(({ hash: _h, ...info }) => info);
  }

  async revokeToken(id: string): Promise<boolean> {
    if (this.db) return fromDb(this.db.revokeToken(id));
    return this.tokens.delete(id);
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function trim(map: Map<string, unknown>): void {
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as string);
}
