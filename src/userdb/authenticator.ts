/**
 * Logins of users from the user database, beside the others (`inner`: the config file's users, then LDAP
 * and the hook; asked for config names, anonymous access and names the database does not hold, so an
 * unknown name costs what it costs without a database).
 * A user's `login` is `password` (default), `certificate` (a verified client certificate that names the
 * user, pinned when `certificates` lists fingerprints; USER is answered 232) or `certificate+password`,
 * with the config users' rule (auth/certificate-login.ts) and `clientCerts.userName`.
 * Each login reads the user's row (one indexed query), so a new user logs in at once and a changed
 * password applies to the next login on every node. A disabled user, or one connecting from outside
 * their `allowed_networks`, fails like a wrong password (the log says why).
 *
 * The database unreachable: a login of a name that is not a config user gets `421 User database
 * unavailable; try again later.` and one log line (config users still log in); running sessions go on.
 *
 * Storage is built per user and kept until the user's row changes (`forget`): a LocalStorage on the home
 * (absolute, or `<root>/<name>` when the row has none, created at first login), or below an s3:// root
 * the key prefix the home names (`<root>/<name>` without one; confined to the root, auth/object-homes.ts),
 * wrapped in a QuotaStorage counting against the database's usage figure when the user has a quota
 * (quota-usage.ts). A home that is refused fails the login like a wrong password (the log says why).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FtpError } from '../base/errors.js';
import { Code } from '../base/reply-codes.js';
import type { Authenticator, LoginRefusal, LoginRequest, LoginResult } from '../auth/authenticator.js';
import { verifyHash } from '../auth/password.js';
import { certificateRefusal } from '../auth/certificate-login.js';
import { defaultPermissions, RulePermissions } from '../auth/rules.js';
import { DUMMY_HASH, type UserAuthenticatorOptions } from '../auth/users.js';
import type { Permissions } from '../auth/permissions.js';
import type { ObjectHomes } from '../auth/object-homes.js';
import { AccessList } from '../security/access-list.js';
import type { Logger } from '../logger.js';
import { LocalStorage } from '../storage/local.js';
import { QuotaStorage } from '../storage/quota.js';
import type { Storage } from '../storage/storage.js';
import { dbErrorText } from './connect.js';
import { SharedQuotaUsage } from './quota-usage.js';
import type { DbUser, UserStore } from './store.js';

/** The reply to a login the database cannot answer now. */
export const DB_UNAVAILABLE = 'User database unavailable; try again later.';

export interface DbAuthenticatorOptions extends UserAuthenticatorOptions {
  /** Where homes of users without one go: `<root>/<name>`. */
  root: string;
  /** With an s3:// root: homes are key prefixes below it. */
  objectHomes?: ObjectHomes;
  logger: Logger;
}

interface Built {
  key: string;
  storage: Storage;
  permissions: Permissions;
}

export class DbAuthenticator implements Authenticator {
  private readonly built = new Map<string, Built>();
  private readonly configNames: ReadonlySet<string>;

  constructor(
    private readonly store: UserStore,
    /** The authenticator the database's goes around: the config users (and LDAP, the hook after them). */
    readonly inner: Authenticator,
    /** The config file's user names (theirs, never the database's). */
    configNames: readonly string[],
    private readonly options: DbAuthenticatorOptions,
  ) {
    this.configNames = new Set(configNames);
  }

  /** The names in both the config file and the database (a start-up error). */
  async clashes(): Promise<string[]> {
    const names = await this.store.names();
    return names.filter((n) => this.configNames.has(n)).sort();
  }

  /** Whether `name` is a config user (its sessions are not the database's business). */
  isConfigUser(name: string): boolean {
    return this.configNames.has(name);
  }

  /** The user's row changed: the next login builds its storage and permissions again. */
  forget(name: string): void {
    this.built.delete(name);
  }

  async login(req: LoginRequest): Promise<LoginResult | LoginRefusal | null> {
    if (this.configNames.has(req.user)) return this.inner.login(req);
    if (req.certificateOnly) return this.certificateOnly(req);
    let user: DbUser | undefined;
    try {
      user = await this.store.get(req.user);
    } catch (err) {
      this.options.logger.error({ user: req.user, peer: req.remoteAddress, reason: dbErrorText(err) }, 'login refused: user database unavailable');
      throw new FtpError(Code.serviceUnavailable, DB_UNAVAILABLE, { cause: err });
    }
    if (!user) return this.inner.login(req); // anonymous, or an unknown name (the dummy hash)
    if (user.login !== 'password') {
      const refused = certificateRefusal(user, req.certificate, this.options.certificateUserName);
      if (refused !== undefined) {
        await verifyHash(DUMMY_HASH, req.password); // a refusal costs what a wrong password costs
        return { refused };
      }
    }
    if (user.login !== 'certificate' && !(user.passwordHash !== null && (await verifyHash(user.passwordHash, req.password)))) return null;
    return this.admit(user, req);
  }

  /**
   * At USER, with a verified client certificate: a database user whose login is `certificate` and whom
   * the certificate vouches for is logged in without PASS (232); anyone else is asked for a password as
   * usual. The database unreachable: asked for a password too (PASS then gets the 421).
   */
  private async certificateOnly(req: LoginRequest): Promise<LoginResult | LoginRefusal | null> {
    let user: DbUser | undefined;
    try {
      user = await this.store.get(req.user);
    } catch {
      return null;
    }
    if (!user) return this.inner.login(req);
    if (user.login !== 'certificate' || certificateRefusal(user, req.certificate, this.options.certificateUserName) !== undefined) return null;
    return this.admit(user, req);
  }

  /** After the credentials: the enabled flag, the networks, the home. */
  private async admit(user: DbUser, req: LoginRequest): Promise<LoginResult | null> {
    if (!user.enabled) {
      this.options.logger.info({ user: user.name, peer: req.remoteAddress }, 'login refused: user disabled');
      return null;
    }
    if (user.allowedNetworks && user.allowedNetworks.length > 0 && !allowedFrom(user.allowedNetworks, req.remoteAddress)) {
      this.options.logger.info({ user: user.name, peer: req.remoteAddress }, 'login refused: not from an allowed network');
      return null;
    }
    let built: Built;
    try {
      built = await this.build(user);
    } catch (err) {
      this.options.logger.error({ user: user.name, err }, 'login refused: the user database row is not usable');
      return null;
    }
    return { storage: built.storage, permissions: built.permissions, name: user.name };
  }

  private async build(user: DbUser): Promise<Built> {
    const key = JSON.stringify([user.home, user.readOnly, user.permissions, user.rules, user.quotaBytes, user.quotaFiles]);
    const cached = this.built.get(user.name);
    if (cached?.key === key) return cached;
    const permissions = new RulePermissions(user.permissions ?? defaultPermissions(user.readOnly), user.rules);
    const backend = await this.backend(user);
    const quota = { ...(user.quotaBytes !== null ? { bytes: user.quotaBytes } : {}), ...(user.quotaFiles !== null ? { files: user.quotaFiles } : {}) };
    const storage =
      user.quotaBytes !== null || user.quotaFiles !== null
        ? new QuotaStorage(backend, new SharedQuotaUsage(backend, this.store, user.name, (err) => this.quotaError(user.name, err)), quota)
        : backend;
    const built = { key, storage, permissions };
    this.built.set(user.name, built);
    return built;
  }

  /** The home's storage: a key prefix below an s3:// root, else a directory. */
  private async backend(user: DbUser): Promise<Storage> {
    const objects = this.options.objectHomes;
    if (objects) return objects.storage(user.home ?? user.name);
    if (user.home?.startsWith('s3://')) throw new Error('an s3:// home needs an s3:// root');
    const home = user.home ?? join(this.options.root, user.name);
    if (!user.home) await mkdir(home, { recursive: true, mode: 0o755 });
    const uploads = this.options.uploads ?? {};
    return new LocalStorage(home, {
      ...(uploads.atomic !== undefined ? { atomicUploads: uploads.atomic } : {}),
      ...(uploads.partial !== undefined ? { partialUploads: uploads.partial } : {}),
      ...(this.options.journal ? { journal: this.options.journal } : {}),
    });
  }

  private lastQuotaError = 0;
  private quotaError(user: string, err: unknown): void {
    if (Date.now() - this.lastQuotaError < 60_000) return;
    this.lastQuotaError = Date.now();
    this.options.logger.warn({ user, reason: dbErrorText(err) }, 'quota usage: user database unavailable, counting locally');
  }
}

function allowedFrom(networks: readonly string[], address: string): boolean {
  try {
    return new AccessList(networks, []).allows(address);
  } catch {
    return false;
  }
}
