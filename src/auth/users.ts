/**
 * The built-in authenticator: accounts from flags or the config file, and optional anonymous access.
 * Unknown users cost the same as wrong passwords: a dummy hash is verified so timing says nothing.
 */
import { LocalStorage } from '../storage/local.js';
import type { Storage } from '../storage/storage.js';
import type { Authenticator, LoginRequest, LoginResult } from './authenticator.js';
import { readOnly, readWrite } from './permissions.js';
import { secretEquals, verifyHash } from './password.js';

export interface UserAccount {
  name: string;
  /** An argon2id PHC hash, or (from --user NAME:PASSWORD) a plain password kept in memory. */
  password: { hash: string } | { plain: string };
  /** Home directory on disk (or a ready storage, for embedders). */
  home: string | Storage;
  readOnly?: boolean;
}

export interface AnonymousAccess {
  home: string | Storage;
}

/** Names that log in anonymously when anonymous access is enabled. */
export const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);

// A valid argon2id hash of a random password, verified for unknown users to equalise timing.
const DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$mSwEH/uNw9zRgQMGIehFVg$OJGJxGcVK4/QWaJ2KGvyNvBx5DtiwRPMYiaybCNGJt4';

export class UserAuthenticator implements Authenticator {
  private readonly users = new Map<string, UserAccount>();
  private readonly storages = new Map<string, Storage>();

  constructor(
    users: UserAccount[],
    private readonly anonymous?: AnonymousAccess,
  ) {
    for (const u of users) this.users.set(u.name, u);
  }

  private storageFor(key: string, home: string | Storage): Storage {
    if (typeof home !== 'string') return home;
    let s = this.storages.get(key);
    if (!s) {
      s = new LocalStorage(home);
      this.storages.set(key, s);
    }
    return s;
  }

  async login(req: LoginRequest): Promise<LoginResult | null> {
    const account = this.users.get(req.user);
    if (!account) {
      if (this.anonymous && ANONYMOUS_NAMES.has(req.user.toLowerCase())) {
        return { storage: this.storageFor('\0anonymous', this.anonymous.home), permissions: readOnly, name: 'anonymous' };
      }
      await verifyHash(DUMMY_HASH, req.password);
      return null;
    }
    const ok =
      'plain' in account.password
        ? secretEquals(account.password.plain, req.password)
        : await verifyHash(account.password.hash, req.password);
    if (!ok) return null;
    return {
      storage: this.storageFor(account.name, account.home),
      permissions: account.readOnly ? readOnly : readWrite,
      name: account.name,
    };
  }
}
