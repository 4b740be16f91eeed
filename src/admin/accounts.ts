/**
 * Who may use the admin console: the accounts of `admin.users` (argon2id hashes, read anew at every
 * login so a reload applies), browser sessions (a random cookie value, kept in memory) and bearer tokens
 * (shown once; only their SHA-256 is kept; revocable). Failed logins count in the FTP server's ban table,
 * and a banned address cannot log in here either.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hashPassword, secretEquals, verifyHash } from '../auth/password.js';

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
  ) {}

  async login(name: string, password: string, address: string): Promise<LoginResult> {
    const throttle = this.throttle();
    if (throttle?.bannedUntil(address) !== undefined) return { ok: false, banned: true };
    if (this.verifying >= MAX_CONCURRENT_LOGINS) return { ok: false, banned: false, busy: true };
    const account = this.users().find((u) => u.name === name);
    let ok: boolean;
    this.verifying++;
    try {
      ok = (await verifyHash(account?.password ?? (await dummyHash()), password)) && account !== undefined;
    } finally {
      this.verifying--;
    }
    if (!ok) {
      throttle?.recordFailure(address);
      return { ok: false, banned: false };
    }
    const cookie = randomBytes(32).toString('base64url');
    this.sessions.set(cookie, { admin: name, expires: this.now() + SESSION_TTL_MS });
    trim(this.sessions);
    return { ok: true, cookie };
  }

  logout(cookie: string): void {
    this.sessions.delete(cookie);
  }

  /** The admin a cookie belongs to (while the account still exists), or undefined. */
  fromCookie(cookie: string | undefined): string | undefined {
    if (!cookie) return undefined;
    const s = this.sessions.get(cookie);
    if (!s) return undefined;
    if (s.expires <= this.now() || !this.users().some((u) => u.name === s.admin)) {
      this.sessions.delete(cookie);
      return undefined;
    }
    return s.admin;
  }

  /** A new token for `admin`: its value is returned once (`ftpsd_ID_SECRET`). */
  createToken(admin: string, label: string): TokenInfo & { token: string } {
    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const info: TokenInfo = { id, label, admin, created: new Date(this.now()).toISOString() };
    this.tokens.set(id, { ...info, hash: sha256(secret) });
    trim(this.tokens);
    return { ...info, token: `ftpsd_${id}_${secret}` };
  }

  /** The admin a bearer token belongs to, or undefined. */
  fromToken(token: string | undefined): string | undefined {
    const m = /^ftpsd_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/.exec(token ?? '');
    if (!m) return undefined;
    const t = this.tokens.get(m[1]!);
    if (!t || !secretEquals(t.hash, sha256(m[2]!))) return undefined;
    return this.users().some((u) => u.name === t.admin) ? t.admin : undefined;
  }

  listTokens(): TokenInfo[] {
    return [...this.tokens.values()].map(({ hash: _h, ...info }) => info);
  }

  revokeToken(id: string): boolean {
    return this.tokens.delete(id);
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function trim(map: Map<string, unknown>): void {
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as string);
}
