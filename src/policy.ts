/**
 * The session's security policies, each decided here and only here: whether a command needs TLS on
 * the control connection (`tlsRequired`), whether CCC may clear it, whether data may go in clear
 * (`dataProtection`), and how data connections must reuse the control connection's TLS session
 * (`sessionReuse`), and whether a data connection belongs to its control connection (`dataBinding`:
 * session reuse and client certificates). The dispatcher, the TLS commands and the data side ask; none decides on its own.
 */
import type { ServerSettings } from './settings.js';
import type { ClientCertificate } from './tls/client-certs.js';
import { AccessList } from './security/access-list.js';

type TlsSettings = Pick<ServerSettings, 'tlsRequired'>;

/** What the TLS-required check needs to know about a command (a subset of CommandSpec). */
export interface CommandTlsNeeds {
  /** Allowed while TLS is required but not yet on (AUTH, FEAT, QUIT, ...). */
  readonly beforeTls?: boolean;
  /** Carries credentials (USER, PASS, ACCT): never over a clear channel while TLS is required. */
  readonly credentials?: boolean;
}

/**
 * Whether `command` must be refused (530) because TLS is required and the control connection is clear.
 * Under `login` a session that logged in over TLS may clear the channel (CCC) and go on in plaintext,
 * but commands that carry credentials never cross a clear channel while TLS is required.
 */
export function tlsRequiredFor(settings: TlsSettings, command: CommandTlsNeeds, state: { secure: boolean; loggedIn: boolean }): boolean {
  if (settings.tlsRequired === 'off' || state.secure) return false;
  return command.credentials === true || (!command.beforeTls && !state.loggedIn);
}

/** Whether CCC is offered at all (FEAT): never while every command must be protected. */
export function cccOffered(settings: TlsSettings): boolean {
  return settings.tlsRequired !== 'all';
}

/** Whether CCC may clear the control connection now: under `login` only after a login. */
export function cccAllowed(settings: TlsSettings, loggedIn: boolean): boolean {
  return cccOffered(settings) && (settings.tlsRequired !== 'login' || loggedIn);
}

/**
 * Whether this session may transfer over a clear (PROT C) data connection: never under
 * `tlsRequired: all`; under `dataProtection: tls-sessions` only in a session that never used TLS.
 */
export function clearDataAllowed(settings: Pick<ServerSettings, 'tlsRequired' | 'dataProtection'>, usedTls: boolean): boolean {
  if (settings.tlsRequired === 'all') return false;
  return settings.dataProtection === 'optional' || !usedTls;
}

/** How protected data connections relate to the control connection's TLS sessions. */
export interface ReuseDecision {
  /** The control connection records the TLS sessions it issues (a SessionBinder), and data may resume them. */
  readonly bind: boolean;
  /** A data connection that does not resume one of those sessions is refused (425). */
  readonly require: boolean;

  /**
   * Under `require`: a data connection that does not resume one of those sessions is accepted all the
   * same when it presents the control connection's verified client certificate (`dataBinding`).
   */
  readonly orClientCert: boolean;
}

/** The session-reuse decision for `sessionReuse` (`require`, `require-or-client-cert`, `allow`, `off`). */
export function sessionReuse(settings: Pick<ServerSettings, 'sessionReuse'>, control: { cleared: boolean; sessionKnown: boolean } = { cleared: false, sessionKnown: false }): ReuseDecision {
  // After CCC the client has no control TLS connection left to copy a session from (lftp copies it from
  // the live connection): its data connections start new sessions. What is still checked is that this
  // control connection did complete TLS and the server knows its session (the binder holds it); the
  // data connection's address is checked as always (a foreign address is refused), and so is its client
  // certificate when client certificates are on.
  const afterCcc = control.cleared && control.sessionKnown;
  const orClientCert = settings.sessionReuse === 'require-or-client-cert';
  return { bind: settings.sessionReuse !== 'off', require: (settings.sessionReuse === 'require' || orClientCert) && !afterCcc, orClientCert };
}

/** Who a session is, for `security.sessionReuseAllow` (its users and client networks get `allow`). */
export interface ReuseSubject {
  readonly user: string | undefined;
  readonly remoteAddress: string;
}

/**
 * The session-reuse decision for a session's next protected data connection: `sessionReuse` (after CCC,
 * as `sessionReuse()` says), then `security.sessionReuseAllow`: its users and client networks get `allow`
 * (Java/JSSE clients that never resume on data connections) while everyone else keeps `require`.
 */
export function sessionReuseFor(
  settings: Pick<ServerSettings, 'sessionReuse' | 'security'>,
  control: { cleared: boolean; sessionKnown: boolean },
  who: ReuseSubject,
): ReuseDecision {
  const decision = sessionReuse(settings, control);
  if (!decision.require) return decision;
  const scoped = settings.security.sessionReuseAllow;
  const byUser = who.user !== undefined && scoped.users.includes(who.user);
  const byNetwork = scoped.networks.length > 0 && networksOf(scoped.networks).allows(who.remoteAddress);
  return byUser || byNetwork ? { ...decision, require: false } : decision;
}

/** The networks of `security.sessionReuseAllow` as a list to check addresses against (made once per list). */
const networkLists = new WeakMap<readonly string[], AccessList>();
function networksOf(networks: readonly string[]): AccessList {
  let list = networkLists.get(networks);
  if (!list) networkLists.set(networks, (list = new AccessList(networks, [])));
  return list;
}

/** What is known of a protected data connection once its handshake is done. */
export interface DataBindingFacts {
  /** It resumed a TLS session of its own control connection (SessionBinder.owns). */
  readonly ownsSession: boolean;
  /** The client certificate the control connection presented (its latest handshake), if any. */
  readonly controlCert: ClientCertificate | undefined;
  /** The client certificate the data connection presented, if any (client certificates asked for). */
  readonly dataCert: ClientCertificate | undefined;
  /** Every handshake must present a valid client certificate (`clientCerts.required`). */
  readonly certRequired: boolean;
}

/**
 * Whether a protected data connection belongs to its control connection: undefined when accepted, else
 * why not (`certificate`: the client certificates do not match, or none where one is required;
 * `reuse`: the session-reuse rule). A data connection that presents a certificate must present the
 * control connection's (SHA-256 compared), as vsftpd does; under `require-or-client-cert` the same
 * verified certificate on both stands in for resuming the control connection's session.
 */
export function dataBinding(reuse: ReuseDecision, facts: DataBindingFacts): 'certificate' | 'reuse' | undefined {
  const { controlCert, dataCert } = facts;
  if (facts.certRequired && !dataCert?.verified) return 'certificate';
  if (dataCert && controlCert && dataCert.fingerprint !== controlCert.fingerprint) return 'certificate';
  if (!reuse.require || facts.ownsSession) return undefined;
  const sameVerified = reuse.orClientCert && controlCert?.verified === true && dataCert?.verified === true && dataCert.fingerprint === controlCert.fingerprint;
  return sameVerified ? undefined : 'reuse';
}
