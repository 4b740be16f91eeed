/**
 * The built-in authenticator: accounts from flags or the config file, and optional anonymous access.
 * Unknown users cost the same as wrong passwords: a dummy hash is verified so timing says nothing.
 *
 * Each account's storage is built once and shared by all its sessions: a LocalStorage on its home (with
 * the server's upload policy), wrapped in a QuotaStorage when the account has a quota. Accounts that share
 * a home share one quota usage figure; every account on a home that some account has a quota on is
 * tracked, so the figure stays right whoever writes.
 */
import type { UserBandwidth } from './authenticator.js';
import { resolve } from 'node:path';
import { LocalStorage, type PartialUploadPolicy } from '../storage/local.js';
import { QuotaStorage, QuotaUsage, type QuotaLimits } from '../storage/quota.js';
import type { Storage } from '../storage/storage.js';
import type { UploadJournal } from '../storage/upload-journal.js';
import type { Authenticator, LoginRequest, LoginResult } from './authenticator.js';
import { readOnly, type Permission, type Permissions } from './permissions.js';
import { defaultPermissions, RulePermissions, type PermissionRule } from './rules.js';
import { secretEquals, verifyHash } from './password.js';

export interface UserAccount {
  name: string;
  /** An argon2id PHC hash, or (from --user NAME:PASSWORD) a plain password kept in memory. */
  password: { hash: string } | { plain: string };
  /** Home directory on disk (or a ready storage, for embedders). */
  home: string | Storage;
  /** Download only: the default permissions become list + read. */
  readOnly?: boolean;
  /** What the user may do (default: every permission, or list + read when `readOnly`). */
  permissions?: readonly Permission[];
  /** Per-directory overrides of `permissions` (see auth/rules.ts). */
  rules?: readonly PermissionRule[];
  /** Limits on the bytes and files in the home (552 when exceeded). */
  quota?: QuotaLimits;
  /** Bandwidth of all the user's sessions together (data/bandwidth.ts). */
  bandwidth?: UserBandwidth;
}

/** How uploads are written to local homes (see storage/local.ts). */
export interface UploadPolicy {
  /** New files are written under a hidden temp name and renamed on success (default true). */
  atomic?: boolean;
  /** What a failed upload of a new file leaves: `delete` (default) or `keep`. */
  partial?: PartialUploadPolicy;
}

export interface UserAuthenticatorOptions {
  uploads?: UploadPolicy;
  /** Records the temp files of uploads to local homes, for the clean-up after a crash (see `openUploadJournal`). */
  journal?: UploadJournal;
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
  private readonly permissions = new Map<string, Permissions>();
  /** One backend per home, one quota usage per tracked home, one storage per account. */
  private readonly homes = new Map<string | Storage, Storage>();
  private readonly usages = new Map<string | Storage, QuotaUsage>();
  private readonly storages = new Map<string, Storage>();
  private readonly tracked = new Set<string | Storage>();

  constructor(
    users: UserAccount[],
    private readonly anonymous?: AnonymousAccess,
    private readonly options: UserAuthenticatorOptions = {},
  ) {
    for (const u of users) {
      this.users.set(u.name, u);
      // Built now, so a bad rule is an error at start, not at login.
      this.permissions.set(u.name, new RulePermissions(u.permissions ?? defaultPermissions(u.readOnly ?? false), u.rules ?? []));
      if (u.quota) this.tracked.add(homeKey(u.home));
    }
  }

  private backend(home: string | Storage): Storage {
    if (typeof home !== 'string') return home;
    let s = this.homes.get(homeKey(home));
    if (!s) {
      const uploads = this.options.uploads ?? {};
      s = new LocalStorage(home, {
        ...(uploads.atomic !== undefined ? { atomicUploads: uploads.atomic } : {}),
        ...(uploads.partial !== undefined ? { partialUploads: uploads.partial } : {}),
        ...(this.options.journal ? { journal: this.options.journal } : {}),
      });
      this.homes.set(homeKey(home), s);
    }
    return s;
  }

  private storageFor(account: UserAccount): Storage {
    let s = this.storages.get(account.name);
    if (!s) {
      const backend = this.backend(account.home);
      const key = homeKey(account.home);
      if (this.tracked.has(key)) {
        let usage = this.usages.get(key);
        if (!usage) {
          usage = new QuotaUsage(backend);
          this.usages.set(key, usage);
        }
        s = new QuotaStorage(backend, usage, account.quota ?? {});
      } else {
        s = backend;
      }
      this.storages.set(account.name, s);
    }
    return s;
  }

  /**
   * After a reload: takes over the quota usage figure of each home that `previous` (the authenticator
   * before) tracked and this one tracks too, so sessions logged in before and after the reload count
   * against one figure (and the home is not walked again).
   */
  adopt(previous: UserAuthenticator): void {
    for (const [key, usage] of previous.usages) if (this.tracked.has(key) && !this.usages.has(key)) this.usages.set(key, usage);
  }

  async login(req: LoginRequest): Promise<LoginResult | null> {
    const account = this.users.get(req.user);
    if (!account) {
      if (this.anonymous && ANONYMOUS_NAMES.has(req.user.toLowerCase())) {
        return { storage: this.backend(this.anonymous.home), permissions: readOnly, name: 'anonymous', anonymous: true };
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
      storage: this.storageFor(account),
      permissions: this.permissions.get(account.name)!,
      name: account.name,
      ...(account.bandwidth ? { bandwidth: account.bandwidth } : {}),
    };
  }
}

/** Homes given as paths are the same home however they are spelled (`a/../b`, a trailing slash). */
function homeKey(home: string | Storage): string | Storage {
  return typeof home === 'string' ? resolve(home) : home;
}
