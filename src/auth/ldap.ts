/**
 * Logins against an LDAP directory (OpenLDAP, Active Directory, ...): search the user under `base` with
 * `filter` (the name escaped, ldap-filter.ts) as `bindDn` or anonymously, then bind as the entry found
 * with the password. An empty password is refused before any bind (an "unauthenticated bind" succeeds
 * on many servers and must never log anyone in). The home comes from `homeAttribute`, the quota from
 * `quotaAttribute`, the rest from the first of `groups` the user is in (the user's `memberOf`, or the
 * group's `member`); `requireGroup` refuses users outside it.
 *
 * A directory that cannot answer (down, slow, refusing our own bind) makes `login` reject with an
 * AuthUnavailableError (the client gets 421); a wrong name or password resolves to null. Successful
 * logins may be remembered for `cacheMs`, keyed by the name and a keyed digest of the password; a
 * failure is never remembered.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Client, Entry } from 'ldapts';
import type { Logger } from '../logger.js';
import { AuthUnavailableError, type Authenticator, type LoginRequest, type LoginResult } from './authenticator.js';
import type { DirectoryAccount, DirectoryAccounts } from './directory-account.js';
import { escapeFilterValue, DEFAULT_FILTER, userFilter } from './ldap-filter.js';
import { DEFAULT_LDAP_TIMEOUT_MS, LdapPool, withTimeout, type LdapPoolOptions } from './ldap-pool.js';
import type { Permission } from './permissions.js';

/** How a group maps to what its members may do (the first group of the list a user is in decides). */
export interface LdapGroupRule {
  dn: string;
  readOnly?: boolean;
  permissions?: readonly Permission[];
  quotaBytes?: number;
  /** How its members log in: `password` (default); the certificate forms need client certificates. */
  login?: 'password' | 'certificate' | 'certificate+password';
}

export interface LdapOptions extends LdapPoolOptions {
  base: string;
  /** Default `(uid={name})`. */
  filter?: string;
  /** Search as this DN (with `bindPassword`); anonymously when absent. */
  bindDn?: string;
  bindPassword?: string;
  /** Default `homeDirectory`. */
  homeAttribute?: string;
  quotaAttribute?: string;
  groups?: readonly LdapGroupRule[];
  requireGroup?: string;
  /** How long a successful login is remembered (default 0: never). */
  cacheMs?: number;
}

/** The defaults of LdapOptions (the config schema states them from here). */
export const LDAP_DEFAULTS = { filter: DEFAULT_FILTER, homeAttribute: 'homeDirectory', cacheMs: 0, timeoutMs: DEFAULT_LDAP_TIMEOUT_MS } as const;

/** Most successful logins remembered (with `cacheMs`). */
const MAX_CACHED = 10_000;

/** Longest login name sent to the directory (longer ones are refused without asking it). */
export const MAX_LDAP_NAME = 256;

interface Found {
  dn: string;
  home: string | undefined;
  quotaBytes: number | undefined;
  groups: LdapGroupRule[];
  inRequired: boolean;
}

interface Cached {
  digest: Buffer;
  until: number;
  result: LoginResult;
}

export class LdapAuthenticator implements Authenticator {
  private readonly pool: LdapPool;
  private readonly cache = new Map<string, Cached>();
  private readonly cacheKey = randomBytes(32);

  constructor(
    private readonly options: LdapOptions,
    private readonly accounts: DirectoryAccounts,
    private readonly log: Logger,
  ) {
    this.pool = new LdapPool(options);
  }

  async login(req: LoginRequest): Promise<LoginResult | null> {
    const name = req.user;
    if (req.password === '' || name === '' || name.length > MAX_LDAP_NAME) return null;
    const digest = this.digest(name, req.password);
    const cached = this.cache.get(name);
    if (cached && cached.until > Date.now() && timingSafeEqual(cached.digest, digest)) return cached.result;
    if (cached) this.cache.delete(name);

    const found = await this.ask((client) => this.check(client, name, req.password));
    if (!found) return null;
    if (this.options.requireGroup !== undefined && !found.inRequired) {
      this.log.info({ user: name }, 'LDAP login refused: not in ldap.requireGroup');
      return null;
    }
    const rule = found.groups[0];
    if (rule?.login !== undefined && rule.login !== 'password') {
      this.log.info({ user: name, group: rule.dn, login: rule.login }, 'LDAP login refused: the group logs in with a client certificate');
      return null;
    }
    const home = found.home;
    if (home === undefined) {
      this.log.warn({ user: name, dn: found.dn, attribute: this.homeAttribute }, 'LDAP login refused: the entry has no home attribute');
      return null;
    }
    const quotaBytes = found.quotaBytes ?? rule?.quotaBytes;
    const account: DirectoryAccount = {
      name,
      home,
      ...(rule?.readOnly !== undefined ? { readOnly: rule.readOnly } : {}),
      ...(rule?.permissions !== undefined ? { permissions: rule.permissions } : {}),
      ...(quotaBytes !== undefined ? { quotaBytes } : {}),
    };
    let result: LoginResult;
    try {
      result = await this.accounts.login('ldap', account);
    } catch (err) {
      this.log.warn({ user: name, home, err: (err as Error).message }, 'LDAP login refused: home refused');
      return null;
    }
    const cacheMs = this.options.cacheMs ?? 0;
    if (cacheMs > 0) this.remember(name, { digest, until: Date.now() + cacheMs, result });
    return result;
  }

  /** Whether the directory has `name` (for the start-up warning about names also in the config file). */
  async has(name: string): Promise<boolean> {
    if (name === '' || name.length > MAX_LDAP_NAME) return false;
    return this.ask(async (client) => {
      await this.bindSearcher(client);
      return (await this.search(client, name)).length > 0;
    });
  }

  /** Drops the idle connections (the authenticator was replaced by a reload, or the server stops). */
  close(): void {
    this.pool.close();
  }

  private get homeAttribute(): string {
    return this.options.homeAttribute ?? LDAP_DEFAULTS.homeAttribute;
  }

  /** Caches a success; at MAX_CACHED entries the expired ones go, then the oldest. */
  private remember(name: string, entry: Cached): void {
    this.cache.delete(name);
    if (this.cache.size >= MAX_CACHED) {
      const now = Date.now();
      for (const [k, v] of this.cache) if (v.until <= now) this.cache.delete(k);
      if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(name, entry);
  }

  private digest(name: string, password: string): Buffer {
    return createHmac('sha256', this.cacheKey).update(name).update('\0').update(password).digest();
  }

  /** Runs directory work with a deadline; anything but an answer becomes AuthUnavailableError. */
  private async ask<T>(work: (client: Client) => Promise<T>): Promise<T> {
    // Every request has its own timeout; this bounds the whole login (a few requests) as well.
    const deadline = this.pool.timeoutMs * 4;
    try {
      return await withTimeout(this.pool.use(work), deadline, 'LDAP login');
    } catch (err) {
      if (err instanceof AuthUnavailableError) throw err;
      throw new AuthUnavailableError(`LDAP directory unavailable: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Finds the user, their groups, and binds as them with the password; null for a wrong name or password. */
  private async check(client: Client, name: string, password: string): Promise<Found | null> {
    await this.bindSearcher(client);
    let entries: Entry[];
    try {
      entries = await this.search(client, name);
    } catch (err) {
      if ((err as Error).name === 'SizeLimitExceededError') {
        this.log.warn({ user: name }, 'LDAP login refused: ldap.filter matches more than one entry');
        return null;
      }
      throw err;
    }
    if (entries.length !== 1) {
      if (entries.length > 1) this.log.warn({ user: name }, 'LDAP login refused: ldap.filter matches more than one entry');
      return null;
    }
    const entry = entries[0]!;
    const memberOf = new Set(values(entry, 'memberOf').map(normalizeDn));
    const groups: LdapGroupRule[] = [];
    for (const g of this.options.groups ?? []) if (await this.isMember(client, entry.dn, memberOf, g.dn)) groups.push(g);
    const required = this.options.requireGroup;
    const inRequired = required === undefined || (await this.isMember(client, entry.dn, memberOf, required));
    try {
      await client.bind(entry.dn, password);
    } catch (err) {
      if (await isResultCodeError(err)) return null;
      throw err;
    }
    const quota = this.options.quotaAttribute === undefined ? undefined : values(entry, this.options.quotaAttribute)[0];
    const quotaBytes = quota !== undefined && /^\d{1,15}$/.test(quota.trim()) ? Number(quota.trim()) : undefined;
    if (quota !== undefined && quotaBytes === undefined) this.log.warn({ user: name, attribute: this.options.quotaAttribute }, 'LDAP quota attribute is not a number of bytes; no quota');
    return { dn: entry.dn, home: values(entry, this.homeAttribute)[0], quotaBytes, groups, inRequired };
  }

  /** Binds as `bindDn`, or anonymously (the connection may still be bound as the last user). */
  private async bindSearcher(client: Client): Promise<void> {
    const { bindDn, bindPassword } = this.options;
    try {
      await client.bind(bindDn ?? '', bindDn === undefined ? '' : (bindPassword ?? ''));
    } catch (err) {
      if (await isResultCodeError(err)) {
        throw new AuthUnavailableError(`LDAP directory refused the search bind (${bindDn === undefined ? 'anonymous' : 'ldap.bindDn'}): ${(err as Error).message}`);
      }
      throw err;
    }
  }

  private async search(client: Client, name: string): Promise<Entry[]> {
    const attributes = [this.homeAttribute, 'memberOf', ...(this.options.quotaAttribute ? [this.options.quotaAttribute] : [])];
    const { searchEntries } = await client.search(this.options.base, {
      scope: 'sub',
      filter: userFilter(this.options.filter ?? DEFAULT_FILTER, name),
      attributes,
      sizeLimit: 2,
      timeLimit: Math.max(1, Math.ceil(this.pool.timeoutMs / 1000)),
    });
    return searchEntries;
  }

  /** The user is in `group`: by their `memberOf`, or by the group's `member` (groupOfNames). */
  private async isMember(client: Client, userDn: string, memberOf: Set<string>, group: string): Promise<boolean> {
    if (memberOf.has(normalizeDn(group))) return true;
    try {
      const { searchEntries } = await client.search(group, {
        scope: 'base',
        filter: `(member=${escapeFilterValue(userDn)})`,
        attributes: ['1.1'],
        sizeLimit: 1,
      });
      return searchEntries.length > 0;
    } catch (err) {
      if ((err as Error).name === 'NoSuchObjectError') return false;
      throw err;
    }
  }
}

/** An attribute's values as strings (absent: none). */
function values(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === 'string' ? x : x.toString('utf8')));
}

/** DNs compared loosely: case and spaces after separators do not matter. */
function normalizeDn(dn: string): string {
  return dn.toLowerCase().replace(/\s*([,=+])\s*/g, '$1').trim();
}

/** An LDAP result code error (ldapts is already loaded here: the pool opened the connection with it). */
async function isResultCodeError(err: unknown): Promise<boolean> {
  return err instanceof (await import('ldapts')).ResultCodeError;
}
