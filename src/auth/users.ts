/**
 * The built-in authenticator: accounts from flags or the config file, and optional anonymous access.
 * Unknown users cost the same as wrong passwords: a dummy hash is verified so timing says nothing.
 *
 * Each account's storage is built once and shared by all its sessions (see home-storages.ts: quota
 * figures shared by the accounts of one home).
 */
import type { QuotaLimits } from '../storage/quota.js';
import type { Storage } from '../storage/storage.js';
import type { UploadJournal } from '../storage/upload-journal.js';
import { HomeStorages, type HomeStoragesOptions, type UploadPolicy } from './home-storages.js';
import type { Authenticator, LoginMethod, LoginRefusal, LoginRequest, LoginResult, UserBandwidth } from './authenticator.js';
import type { CertificateUserName, ClientCertificate } from '../tls/client-certs.js';
import { certificateRefusal } from './certificate-login.js';
import { readOnly, type Permission, type Permissions } from './permissions.js';
import { defaultPermissions, RulePermissions, type PermissionRule } from './rules.js';
import { secretEquals, verifyHash } from './password.js';

/** How an account logs in (declared with the seam, so the config schema need not load this file). */
export { LOGIN_METHODS, type LoginMethod } from './authenticator.js';

export interface UserAccount {
  name: string;
  /**
   * An argon2id PHC hash, or (from --user NAME:PASSWORD) a plain password kept in memory. Only an
   * account whose `login` is `certificate` may have none.
   */
  password?: { hash: string } | { plain: string };
  /** How the account logs in (default `password`). */
  login?: LoginMethod;
  /** Pins: the SHA-256 fingerprints of the client certificates that may vouch for this account (any of them). */
  certificates?: readonly string[];
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

export type { UploadPolicy };
/** How the built-in authenticator makes the storages of homes on disk (see home-storages.ts). */
export interface UserAuthenticatorOptions extends HomeStoragesOptions {
  uploads?: UploadPolicy;
  /** Records the temp files of uploads to local homes, for the clean-up after a crash (see `openUploadJournal`). */
  journal?: UploadJournal;
  /** Which part of a verified client certificate names the user (default `commonName`). */
  certificateUserName?: CertificateUserName;
}

export interface AnonymousAccess {
  home: string | Storage;
}

/** Names that log in anonymously when anonymous access is enabled. */
export const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);

// A valid argon2id hash of a random password, verified for unknown users to equalise timing.
export const DUMMY_HASH =
  '$argon2id$v=19$m=19456,t=2,p=1$mSwEH/uNw9zRgQMGIehFVg$OJGJxGcVK4/QWaJ2KGvyNvBx5DtiwRPMYiaybCNGJt4';

export class UserAuthenticator implements Authenticator {
  private readonly users = new Map<string, UserAccount>();
  private readonly permissions = new Map<string, Permissions>();
  /**
   * The storages of the homes, shared with the other authenticators of the server (see home-storages.ts).
   * @internal
   */
  readonly homes: HomeStorages;

  constructor(
    users: UserAccount[],
    private readonly anonymous?: AnonymousAccess,
    private readonly options: UserAuthenticatorOptions = {},
  ) {
    this.homes = new HomeStorages(options);
    for (const u of users) {
      if (!u.password && u.login !== 'certificate') throw new Error(`user ${u.name}: a password is required unless login is certificate`);
      this.users.set(u.name, u);
      // Built now, so a bad rule is an error at start, not at login.
      this.permissions.set(u.name, new RulePermissions(u.permissions ?? defaultPermissions(u.readOnly ?? false), u.rules ?? []));
      if (u.quota) this.homes.track(u.home);
    }
  }

  /** The names this authenticator answers for alone: its accounts, and the anonymous names when on. */
  knows(user: string): boolean {
    return this.users.has(user) || (this.anonymous !== undefined && ANONYMOUS_NAMES.has(user.toLowerCase()));
  }

  /** The account names (for the start-up check of names also in a directory). */
  names(): string[] {
    return [...this.users.keys()];
  }

  /**
   * After a reload: takes over the quota usage figure of each home that `previous` (the authenticator
   * before) tracked and this one tracks too, so sessions logged in before and after the reload count
   * against one figure (and the home is not walked again).
   */
  adopt(previous: UserAuthenticator): void {
    this.homes.adopt(previous.homes);
  }

  async login(req: LoginRequest): Promise<LoginResult | LoginRefusal | null> {
    const account = this.users.get(req.user);
    if (req.certificateOnly) {
      // At USER: only an account that logs in by certificate alone, with a certificate that vouches for it.
      if (account?.login !== 'certificate' || this.certificateRefusal(account, req.certificate) !== undefined) return null;
      return this.success(account);
    }
    if (!account) {
      if (this.anonymous && ANONYMOUS_NAMES.has(req.user.toLowerCase())) {
        return { storage: this.homes.backend(this.anonymous.home), permissions: readOnly, name: 'anonymous', anonymous: true };
      }
      await verifyHash(DUMMY_HASH, req.password);
      return null;
    }
    const method = account.login ?? 'password';
    if (method !== 'password') {
      const refused = this.certificateRefusal(account, req.certificate);
      if (refused !== undefined) {
        await verifyHash(DUMMY_HASH, req.password); // a refusal costs what a wrong password costs
        return { refused };
      }
      if (method === 'certificate') return this.success(account);
    }
    const password = account.password;
    const ok =
      password === undefined
        ? false
        : 'plain' in password
          ? secretEquals(password.plain, req.password)
          : await verifyHash(password.hash, req.password);
    if (!ok) return null;
    return this.success(account);
  }

  private success(account: UserAccount): LoginResult {
    return {
      storage: this.homes.storage(`user\0${account.name}`, account.home, account.quota),
      permissions: this.permissions.get(account.name)!,
      name: account.name,
      ...(account.bandwidth ? { bandwidth: account.bandwidth } : {}),
    };
  }

  /** Why `cert` does not satisfy `account`'s certificate rule (undefined: it does). */
  private certificateRefusal(account: UserAccount, cert: ClientCertificate | undefined): string | undefined {
    return certificateRefusal(account, cert, this.options.certificateUserName);
  }

  /** Which part of a verified client certificate names the user (for the user database's accounts too). */
  get certificateUserName(): CertificateUserName | undefined {
    return this.options.certificateUserName;
  }
}
