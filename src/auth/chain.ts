/**
 * The server's authenticators in one: config-file users first, then LDAP, then the auth hook. A name the
 * config file knows (or an anonymous name, when anonymous access is on) is decided by the config file
 * alone; any other name is offered to each of the others in turn, and the first that logs it in wins.
 * When none does and one of them could not decide (directory or hook down), the login is unavailable
 * (421), not wrong (530): a directory outage must not look like a wrong password, nor count toward a ban.
 */
import type { Logger } from '../logger.js';
import { AuthUnavailableError, isAuthUnavailable, type Authenticator, type LoginRefusal, type LoginRequest, type LoginResult } from './authenticator.js';
import type { UserAuthenticator } from './users.js';

/** An authenticator after the config users; `has` says whether it also knows a name (for the warning). */
export interface ChainedAuthenticator extends Authenticator {
  has?(name: string): Promise<boolean>;
  close?(): void;
}

export class AuthenticatorChain implements Authenticator {
  /** Config names not yet checked against the others (checked at start, or at their first login). */
  private readonly unchecked: Set<string>;

  constructor(
    readonly users: UserAuthenticator,
    private readonly others: readonly ChainedAuthenticator[],
    private readonly log: Logger,
  ) {
    this.unchecked = new Set(others.some((a) => a.has) ? users.names() : []);
  }

  async login(req: LoginRequest): Promise<LoginResult | LoginRefusal | null> {
    if (this.users.knows(req.user)) {
      if (this.unchecked.has(req.user)) void this.checkShadowed([req.user]);
      return this.users.login(req);
    }
    // A login by certificate alone (the question asked at USER) is for config-file accounts only.
    if (req.certificateOnly) return null;
    let unavailable: AuthUnavailableError | undefined;
    let refusal: LoginRefusal | undefined;
    for (const a of this.others) {
      try {
        const result = await a.login(req);
        if (result && 'refused' in result) refusal ??= result;
        else if (result) return result;
      } catch (err) {
        if (!isAuthUnavailable(err)) throw err;
        unavailable ??= err;
      }
    }
    if (unavailable) throw unavailable;
    return refusal ?? null;
  }

  /**
   * Warns about each config name that LDAP also has (the config file's account is the one used). Names
   * it cannot check now (directory down) are checked again at their first login. Never throws.
   */
  async checkShadowed(names: readonly string[] = [...this.unchecked]): Promise<void> {
    for (const name of names) {
      if (!this.unchecked.has(name)) continue;
      try {
        let found = false;
        for (const a of this.others) if (a.has && (await a.has(name))) found = true;
        this.unchecked.delete(name);
        if (found) this.log.warn({ user: name }, 'user is in the config file and in LDAP: the config file account is used');
      } catch (err) {
        // Unreachable now: stays unchecked, and the rest wait too.
        this.log.warn({ reason: (err as Error).message }, 'could not check the config users against LDAP now; checked again at their first login');
        return;
      }
    }
  }

  /** Drops the idle connections of the authenticators (replaced by a reload, or the server stops). */
  close(): void {
    for (const a of this.others) a.close?.();
  }
}
