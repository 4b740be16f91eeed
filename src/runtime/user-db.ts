/**
 * A node's link to the user database (`--user-db`): the store and its migrations, the authenticator of
 * database users beside the config file's, and what keeps this node in step with the others:
 *
 * - users: a change to a user (LISTEN/NOTIFY, migrations.ts's triggers) ends the live sessions of a
 *   user that was removed or disabled with `421 Account disabled or removed.`; a new or changed user
 *   needs nothing, since every login reads its row;
 * - bans: each failed login on this node is counted in the database; a ban decided there (by whichever
 *   node saw the failure that made it) is imposed on every node's table, and lifting it (`ftpsd ban
 *   remove`) lifts it everywhere; bans in force are read at start and after a reconnection;
 * - session caps: this node publishes its sessions per user, and reads the others' once a second (the
 *   `PeerSessions` of the per-user cap);
 * - the database down: one log line when the change listener is lost and one when it is back; database
 *   logins get 421 meanwhile (authenticator), running sessions go on, reconnection with backoff; the
 *   node is `degraded` (/healthz) until the listener is back;
 * - the admin console: its accounts, sessions and tokens (`admins`), and this node's live sessions
 *   published for the consoles of every node, which may ask to end one (`registry`, node-sessions.ts).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { UserAuthenticator } from '../auth/users.js';
import { AuthenticatorChain } from '../auth/chain.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { ObjectHomes } from '../auth/object-homes.js';
import type { UploadJournal } from '../storage/upload-journal.js';
import type { Logger } from '../logger.js';
import type { FtpServer, PeerSessions } from '../server.js';
import { DbAuthenticator } from '../userdb/authenticator.js';
import { dbErrorText, redactUrl } from '../userdb/connect.js';
import { ChangeListener, type BanNotice } from '../userdb/listener.js';
import { UserStore } from '../userdb/store.js';
import { AdminStore } from '../userdb/admin-store.js';
import { SessionRegistry } from '../userdb/session-registry.js';
import { NodeSessions } from './node-sessions.js';
import type { UploadPolicy } from '../auth/users.js';

/** The 421 a user's live sessions get when the user is removed or disabled. */
export const ACCOUNT_GONE = 'Account disabled or removed.';

const PEERS_EVERY_MS = 1_000;
const PUBLISH_DELAY_MS = 100;
/** Session counts of a node not heard from for this long are a node that is gone. */
const PEER_STALE_MS = 15_000;

export interface UserDbOptions {
  url: string;
  /** The served root (homes of users without one: `<root>/<name>`). */
  root: string;
  uploads?: UploadPolicy;
  journal?: UploadJournal;
  logger: Logger;
}

export class UserDbLink implements PeerSessions {
  readonly node = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  private server: FtpServer | undefined;
  /** The sessions of this node's other workers (cluster mode), counted with those of other nodes. */
  private local: PeerSessions | undefined;
  private peerCounts = new Map<string, number>();
  private publishTimer: NodeJS.Timeout | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;
  private lastFailureWarning = 0;
  /** The admin console's accounts, browser sessions and tokens. */
  readonly admins: AdminStore;
  /** Every node's live sessions (for the admin console). */
  readonly registry: SessionRegistry;
  private nodeSessions: NodeSessions | undefined;

  private constructor(
    readonly store: UserStore,
    readonly listener: ChangeListener,
    private readonly options: UserDbOptions,
  ) {
    this.admins = new AdminStore(store.pool);
    this.registry = new SessionRegistry(store.pool, this.node);
  }

  /**
   * Connects, migrates and listens. Throws a one-line error when the database cannot be reached or the
   * schema cannot be brought up to date (the URL is shown without its password).
   */
  static async open(options: UserDbOptions): Promise<UserDbLink> {
    const { logger } = options;
    let store: UserStore;
    try {
      store = await UserStore.open(options.url, (err) => logger.warn({ reason: dbErrorText(err) }, 'user database: an idle connection was lost'));
    } catch (err) {
      throw new Error(`user database ${redactUrl(options.url)}: ${dbErrorText(err)}`, { cause: err });
    }
    const listener = new ChangeListener(options.url);
    try {
      await listener.start();
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new Error(`user database ${redactUrl(options.url)}: ${dbErrorText(err)}`, { cause: err });
    }
    return new UserDbLink(store, listener, options);
  }

  /**
   * The authenticator of database and config users; throws when a name is in both. `objectHomes`: with
   * an s3:// root, where the database users' homes are (key prefixes below it). On a reload
   * (`reloading`) a database that cannot be reached does not stop it: the check is skipped, with a warning.
   */
  async authenticator(inner: Authenticator, reloading = false, objectHomes?: ObjectHomes): Promise<DbAuthenticator> {
    const users = inner instanceof AuthenticatorChain ? inner.users : inner instanceof UserAuthenticator ? inner : undefined;
    const auth = new DbAuthenticator(this.store, inner, users?.names() ?? [], {
      root: this.options.root,
      logger: this.options.logger,
      ...(objectHomes ? { objectHomes } : {}),
      ...(users?.certificateUserName ? { certificateUserName: users.certificateUserName } : {}),
      ...(this.options.uploads ? { uploads: this.options.uploads } : {}),
      ...(this.options.journal ? { journal: this.options.journal } : {}),
    });
    let clashes: string[];
    try {
      clashes = await auth.clashes();
    } catch (err) {
      if (!reloading) throw new Error(`user database ${redactUrl(this.options.url)}: ${dbErrorText(err)}`, { cause: err });
      this.options.logger.warn({ reason: dbErrorText(err) }, 'config reload: user database unreachable, names not checked against it');
      return auth;
    }
    if (clashes.length > 0) throw new Error(`user${clashes.length > 1 ? 's' : ''} ${clashes.join(', ')} in both the config file and the user database: remove one`);
    return auth;
  }

  /** Whether the node is cut off from the database now (for /healthz). */
  get degraded(): boolean {
    return !this.closed && !this.listener.connected;
  }

  /** Keeps `server` in step with the database (see the header). */
  async attach(server: FtpServer): Promise<void> {
    this.server = server;
    const log = this.options.logger;
    this.local = server.peers;
    server.peers = this;
    this.listener.on('user', (name) => void this.userChanged(name));
    this.listener.on('ban', (notice) => this.banChanged(notice));
    this.listener.on('down', (err) => log.error({ reason: dbErrorText(err) }, 'user database unreachable: database logins get 421 until it is back; reconnecting'));
    this.listener.on('up', () => {
      log.info({}, 'user database reachable again');
      void this.resync();
    });
    server.events.on('login-attempt', (e) => {
      if (e.result === 'failed') void this.countFailure(e.remoteAddress);
    });
    server.events.on('login', () => this.schedulePublish());
    server.events.on('disconnect', () => this.schedulePublish());
    this.timers.push(setInterval(() => void this.refreshPeers(), PEERS_EVERY_MS));
    this.timers.push(setInterval(() => void this.store.touchSessions(this.node).catch(() => undefined), PEER_STALE_MS / 3));
    for (const t of this.timers) t.unref();
    this.nodeSessions = new NodeSessions(server, this.registry, this.listener, log);
    await this.loadBans();
  }

  // --- PeerSessions ----------------------------------------------------------------------------

  // The global and per-address caps stay per node (a balancer spreads them).
  get sessions(): number {
    return this.local?.sessions ?? 0;
  }

  sessionsFrom(address: string): number {
    return this.local?.sessionsFrom(address) ?? 0;
  }

  /** Every other process's sessions of `user`: other nodes, and this node's other workers (each publishes its own). */
  userSessions(user: string): number {
    return this.peerCounts.get(user) ?? 0;
  }

  private schedulePublish(): void {
    if (this.publishTimer || this.closed) return;
    this.publishTimer = setTimeout(() => {
      this.publishTimer = undefined;
      void this.publish();
    }, PUBLISH_DELAY_MS);
    this.publishTimer.unref();
  }

  private async publish(): Promise<void> {
    if (!this.server) return;
    const counts = new Map<string, number>();
    for (const conn of this.server.sessions.values()) {
      const name = conn.session.user?.name;
      if (name !== undefined) counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    await this.store.publishSessions(this.node, counts).catch(() => undefined);
  }

  private async refreshPeers(): Promise<void> {
    try {
      this.peerCounts = await this.store.peerSessions(this.node, PEER_STALE_MS);
    } catch {
      // the database is down: the last counts stand (the listener logs the outage)
    }
  }

  // --- users -----------------------------------------------------------------------------------

  private async userChanged(name: string): Promise<void> {
    const server = this.server;
    if (!server) return;
    const auth = server.authenticator;
    if (auth instanceof DbAuthenticator) {
      auth.forget(name);
      if (auth.isConfigUser(name)) return;
    }
    const live = [...server.sessions.values()].filter((c) => c.session.user?.name === name && !c.session.user.anonymous);
    if (live.length === 0) return;
    let user;
    try {
      user = await this.store.get(name);
    } catch {
      return; // unknown now: sessions go on
    }
    if (user?.enabled) return;
    this.options.logger.info({ user: name, sessions: live.length, reason: user ? 'disabled' : 'removed' }, 'ending the sessions of a user disabled or removed');
    await Promise.all(live.map((c) => c.end(ACCOUNT_GONE)));
  }

  // --- bans --------------------------------------------------------------------------------------

  private async countFailure(address: string): Promise<void> {
    const throttle = this.server?.throttle;
    if (!throttle) return;
    const network = throttle.networkOf(address);
    try {
      const until = await this.store.recordFailure(network, throttle.policy);
      if (until !== undefined) this.options.logger.warn({ peer: address, network, until: new Date(until).toISOString() }, 'address banned after repeated failed logins (counted across nodes)');
    } catch (err) {
      // At most one line a minute: an outage under a password-guessing flood must not flood the log.
      if (Date.now() - this.lastFailureWarning < 60_000) return;
      this.lastFailureWarning = Date.now();
      this.options.logger.warn({ reason: dbErrorText(err) }, 'login failures not counted in the user database (unreachable): counted on this node only');
    }
  }

  private banChanged(notice: BanNotice): void {
    const throttle = this.server?.throttle;
    if (!throttle) return;
    if ('lifted' in notice) throttle.unban(notice.network);
    else throttle.impose(notice.network, notice.until);
  }

  private async loadBans(): Promise<void> {
    const throttle = this.server?.throttle;
    if (!throttle) return;
    for (const ban of await this.store.bans()) throttle.impose(ban.network, ban.until);
  }

  /** After a reconnection: bans in force, and the users of live sessions, read anew. */
  private async resync(): Promise<void> {
    try {
      await this.loadBans();
      const names = new Set<string>();
      for (const c of this.server?.sessions.values() ?? []) if (c.session.user && !c.session.user.anonymous) names.add(c.session.user.name);
      for (const name of names) await this.userChanged(name);
      await this.publish();
    } catch (err) {
      this.options.logger.warn({ reason: dbErrorText(err) }, 'user database: resynchronising failed');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.publishTimer);
    await this.nodeSessions?.close();
    await this.listener.close();
    await this.store.publishSessions(this.node, new Map()).catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}
