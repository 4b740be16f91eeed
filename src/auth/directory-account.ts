/**
 * What a directory (LDAP) or the auth hook says about a user who logged in, made into a login: a home
 * under the served root (directory-home.ts; below an s3:// root a key prefix, object-homes.ts),
 * permissions, a quota. Storages come from the server's HomeStorages, so quota figures are shared with
 * config users on the same home.
 */
import type { LoginResult } from './authenticator.js';
import { directoryHome } from './directory-home.js';
import type { HomeStorages } from './home-storages.js';
import type { ObjectHomes } from './object-homes.js';
import type { Permission } from './permissions.js';
import { defaultPermissions, RulePermissions } from './rules.js';

export interface DirectoryAccount {
  name: string;
  /** The home as the directory names it, relative to the served root. */
  home: string;
  readOnly?: boolean;
  permissions?: readonly Permission[];
  quotaBytes?: number;
}

export class DirectoryAccounts {
  constructor(
    private readonly root: string,
    private readonly homes: HomeStorages,
    /** With an s3:// root: homes are key prefixes below it. */
    private readonly objectHomes?: ObjectHomes,
  ) {}

  /** The login for `account`; throws an Error (for the log) when its home is refused. */
  async login(source: string, account: DirectoryAccount): Promise<LoginResult> {
    const home = this.objectHomes ? this.objectHomes.storage(account.home) : await directoryHome(this.root, account.home);
    const quota = account.quotaBytes !== undefined ? { bytes: account.quotaBytes } : undefined;
    const key = `${source}\0${account.name}\0${typeof home === 'string' ? home : `s3\0${account.home}`}\0${account.quotaBytes ?? ''}`;
    return {
      storage: this.homes.storage(key, home, quota),
      permissions: new RulePermissions(account.permissions ?? defaultPermissions(account.readOnly ?? false), []),
      name: account.name,
    };
  }
}
