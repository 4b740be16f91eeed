/**
 * `createServer`: an FTP/FTPS server in a few lines, with the options of the config file (checked by the
 * same schema), an authenticator or storage of your own, typed events and a view of the sessions.
 *
 * ```ts
 * const server = createServer({ listen: '127.0.0.1:2121', root: './files', users: [{ name: 'alice', password: 'secret' }], tls: 'self-signed' });
 * server.on('upload', (e) => console.log(`${e.user} uploaded ${e.path} (${e.bytes} bytes)`));
 * await server.listen();
 * // ...
 * await server.close();
 * ```
 */
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Authenticator } from '../auth/authenticator.js';
import type { LoginThrottle } from '../auth/throttle.js';
import { UserAuthenticator, type UserAccount } from '../auth/users.js';
import { loadCertificate, stateCertificate } from '../config/certificate.js';
import { ConfigError } from '../config/errors.js';
import { isS3Root, makeDir, protocolOptions, servedRoots } from '../config/server-options.js';
import { pickUserPolicy } from '../config/user-policy.js';
import { ServerEvents } from '../events.js';
import { createLogger, silentLogger, type Logger } from '../logger.js';
import type { Operations } from '../ops/index.js';
import { FtpServer } from '../server.js';
import type { Storage } from '../storage/storage.js';
import { openUploadJournal, type UploadJournal } from '../storage/upload-journal.js';
import { readClientCerts } from '../config/client-certs.js';
import type { TlsMaterial } from '../tls/context.js';
import { isObject } from './option-forms.js';
import { planServer, RECONFIGURABLE_OPTIONS, type LiveOptions, type Plan, type ServerOptions } from './options.js';
import { Sessions, type SessionList } from './sessions.js';

/** Where the server listens, as `listen()` resolves it (port 0 becomes the real port). */
export interface ListeningAddresses {
  /** Explicit FTP(S) listeners, in the order of `listen`. */
  readonly explicit: AddressInfo[];
  /** Implicit FTPS listeners, in the order of `implicitListen`. */
  readonly implicit: AddressInfo[];
}

/** The certificate the server uses. */
export interface CertificateInfo {
  /** PEM certificate (a self-signed one: to give clients that pin it). */
  readonly cert: string;
  /** SHA-256 fingerprint, `AB:CD:...`. */
  readonly fingerprint256: string;
}

/** Options of `close()`. */
export interface CloseOptions {
  /**
   * How long running transfers may go on (idle sessions get `421` at once); then every session is cut.
   * Default: 0 (cut at once: running transfers get 426).
   */
  readonly graceMs?: number;
}

/**
 * An FTP/FTPS server made by {@link createServer}. It is the event emitter of its own events
 * (`server.on('upload', ...)`; see `ServerEventMap`), and `sessions` shows who is connected.
 */
export class FtpsdServer extends ServerEvents {
  /** The live sessions (empty before `listen()`). */
  readonly sessions: SessionList;
  #plan: Plan;
  #options: ServerOptions;
  #core: FtpServer | undefined;
  #ops: { ops: Operations; drainMs: number } | undefined;
  #starting: Promise<ListeningAddresses> | undefined;
  #addresses: ListeningAddresses | undefined;
  #certificate: CertificateInfo | undefined;
  #closing: Promise<void> | undefined;
  #journal: UploadJournal | undefined;

  /** Checks the options now: a ConfigError names every bad field. Nothing listens until `listen()`. */
  constructor(options: ServerOptions) {
    super();
    this.#plan = planServer(options);
    this.#options = options;
    this.sessions = new Sessions(() => this.#core?.sessions);
  }

  /** The server's event emitter: the server itself (for code that takes `{ events }`, such as `startOperations`). */
  get events(): ServerEvents {
    return this;
  }

  /** Where it listens, once `listen()` resolved. */
  get addresses(): ListeningAddresses | undefined {
    return this.#addresses;
  }

  /** The certificate in use, once listening (undefined without TLS). */
  get certificate(): CertificateInfo | undefined {
    return this.#certificate;
  }

  /** The login ban table, once listening (undefined when bans are off): `server.throttle?.unban(address)`. */
  get throttle(): LoginThrottle | undefined {
    return this.#core?.throttle;
  }

  /**
   * The underlying engine once listening (its settings, for tests and diagnostics). Its sessions are
   * internal objects: prefer `sessions`; `reconfigure` and `updateTls` are on this class.
   */
  get core(): FtpServer | undefined {
    return this.#core;
  }

  /**
   * Changes settings of the running server without dropping anyone (options as in {@link createServer},
   * checked the same way with the options in force: a ConfigError names every bad field and nothing
   * changes). Each option given replaces the one in force (`undefined`: its default); new connections
   * get the new settings, running sessions keep theirs. Options not in `LiveOptions` need a new server.
   */
  reconfigure(changes: LiveOptions): void {
    const core = this.#core;
    if (!core) throw new Error('reconfigure: the server is not listening');
    if (!isObject(changes)) throw ConfigError.of('', 'reconfigure: changes must be an object');
    const fixed = Object.keys(changes).filter((k) => !(RECONFIGURABLE_OPTIONS as readonly string[]).includes(k));
    if (fixed.length > 0) throw new ConfigError(fixed.map((field) => ({ field, message: 'cannot change on a running server (make a new server)' })));
    const options = { ...this.#options, ...changes } as ServerOptions;
    const plan = planServer(options);
    const made = protocolOptions(plan.config, core.log) as Record<string, unknown>;
    const settings = Object.fromEntries(RECONFIGURABLE_OPTIONS.map((k) => [k, k === 'greeting' ? plan.greeting : made[k]]));
    core.reconfigure(settings);
    this.#plan = plan;
    this.#options = options;
  }

  /** Replaces certificate and key (PEM) for new connections; also the target of `watchCertificate(server, files)`. */
  updateTls(material: TlsMaterial): void {
    if (!this.#core) throw new Error('updateTls: the server is not listening');
    this.#core.updateTls(material);
  }

  /**
   * Prepares what the options name (directories, certificate, storages), opens every listener and
   * resolves with their addresses. Errors: a ConfigError for an unusable option (a certificate file that
   * cannot be read, a root that cannot be created), the listen error (`EADDRINUSE`, ...) otherwise.
   * Calling it again returns the same promise.
   */
  listen(): Promise<ListeningAddresses> {
    if (this.#closing) return Promise.reject(new Error('the server was closed'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<ListeningAddresses> {
    const plan = this.#plan;
    const { config } = plan;
    const wantsOps = config.xferlog !== undefined || config.metricsListen !== undefined || config.hooks.length > 0 || config.webhooks.length > 0;
    // The command's log format and operations (xferlog, metrics, hooks), loaded only when asked for.
    const serveOps = plan.logToStdout || wantsOps ? await import('../runtime/serve-ops.js') : undefined;
    const logger = plan.logger ?? (serveOps && plan.logToStdout ? createLogger(config.logLevel, serveOps.serveLogDestination(config, process.stdout, process.env)) : silentLogger);
    const tls = await this.#loadTls();
    const authenticator = plan.authenticator ?? (await this.#builtinAuthenticator(logger));
    const core = new FtpServer({
      ...protocolOptions(config, logger),
      ...(tls ? { tls } : {}),
      authenticator,
      ...(plan.greeting !== undefined ? { greeting: plan.greeting } : {}),
      commands: plan.commands,
      siteCommands: plan.siteCommands,
      events: this,
    });
    this.#core = core;
    try {
      const addresses = await core.listen();
      this.#addresses = addresses;
      if (serveOps && wantsOps) {
        this.#ops = { ops: await serveOps.startServeOperations(this, config, logger, process.env), drainMs: serveOps.drainMs(config) };
      }
      return addresses;
    } catch (err) {
      await core.close();
      this.#journal?.close();
      throw err;
    }
  }

  async #loadTls(): Promise<TlsMaterial | undefined> {
    const plan = this.#plan.tls;
    if (!plan) return undefined;
    let material: { cert: string | Buffer; key: string | Buffer; fingerprint256: string };
    if (plan.kind === 'pem') material = plan;
    else if (plan.kind === 'files') {
      material = await loadCertificate(resolve(plan.certFile), resolve(plan.keyFile), { cert: 'tls.certFile', key: 'tls.keyFile' });
    } else if (plan.persist) material = await stateCertificate(this.#plan.config.stateDir);
    else {
      // Loaded on demand: the generator pulls in @peculiar/x509.
      const { generateSelfSigned } = await import('../tls/self-signed.js');
      material = await generateSelfSigned();
    }
    this.#certificate = { cert: material.cert.toString(), fingerprint256: material.fingerprint256 };
    const clientCerts = this.#plan.config.clientCerts;
    return { cert: material.cert, key: material.key, ...(clientCerts ? { clientCerts: await readClientCerts(clientCerts) } : {}) };
  }

  async #builtinAuthenticator(logger: Logger): Promise<Authenticator> {
    const { config, storage } = this.#plan;
    const storageFor = async (user: string, field: string): Promise<Storage> => {
      const s = typeof storage === 'function' ? await storage(user) : storage!;
      const methods = ['stat', 'list', 'read', 'write', 'mkdir', 'rmdir', 'remove', 'rename'] as const;
      if (typeof s !== 'object' || s === null || !methods.every((m) => typeof s[m] === 'function')) {
        throw ConfigError.of(field, `storage returned no Storage for "${user}"`);
      }
      return s;
    };
    if (storage === undefined) {
      await makeDir(config.root, 'root');
      for (const [i, user] of config.users.entries()) await makeDir(user.home, `users[${i}].home`);
      if (config.anonymous) await makeDir(config.anonymous.home, 'anonymous.home');
    }
    // An s3:// root: one S3Storage, checked at start; homes are key prefixes below it (config/s3-root.ts).
    let homeOf = (h: string): string | Storage => h;
    if (storage === undefined && isS3Root(config.root)) {
      const { checkS3Root, homeStorage, openS3Root } = await import('../config/s3-root.js'); // the SDK only when needed
      const rootStorage = openS3Root(config.root, config.s3);
      await checkS3Root(rootStorage, logger);
      homeOf = (h) => homeStorage(rootStorage, config.root, h);
    }
    const accounts: UserAccount[] = [];
    for (const [i, u] of config.users.entries()) {
      const home = storage === undefined ? homeOf(u.home) : await storageFor(u.name, `users[${i}]`);
      accounts.push({ name: u.name, ...(u.password ? { password: u.password } : {}), home, readOnly: u.readOnly, ...pickUserPolicy(u) });
    }
    const anonymous = config.anonymous && { home: storage === undefined ? homeOf(config.anonymous.home) : await storageFor('anonymous', 'anonymous') };
    // With a stateDir: what a crash of an earlier run left is removed now, and this run's temp files are recorded.
    if (this.#plan.journalDir !== undefined) {
      try {
        ({ journal: this.#journal } = await openUploadJournal({ dir: this.#plan.journalDir, roots: servedRoots(config), logger }));
      } catch (err) {
        throw ConfigError.of('stateDir', `cannot keep the upload journal in ${this.#plan.journalDir}: ${(err as Error).message}`);
      }
    }
    return new UserAuthenticator(accounts, anonymous || undefined, {
      uploads: config.uploads,
      ...(this.#journal ? { journal: this.#journal } : {}),
      ...(config.clientCerts ? { certificateUserName: config.clientCerts.userName } : {}),
    });
  }

  /**
   * Stops listening and ends every session (idle ones get `421 Server shutting down.`); running
   * transfers get `graceMs` to finish. Resolves when every connection is closed (and the transfer log,
   * metrics endpoint and queued hooks are done). Safe to call more than once, also before `listen()`.
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      await this.#starting?.catch(() => {});
      await this.#core?.close(options.graceMs ?? 0);
      await this.#ops?.ops.close(this.#ops.drainMs);
      this.#journal?.close();
    })();
    return this.#closing;
  }
}

/**
 * Makes an FTP/FTPS server. The options are the config file's (same names, same meanings, same checks)
 * plus `authenticator`, `storage`, `commands`, `siteCommands`, `logger` and `greeting`; a bad option
 * throws a `ConfigError` at once, naming the field (`listen[0]: port must be <= 65535`). Call
 * `listen()` to start it.
 *
 * ```ts
 * import { createServer, MemoryStorage, readWrite } from 'ftpsd';
 *
 * const storage = new MemoryStorage({ 'hello.txt': 'Hello!\n' });
 * const server = createServer({
 *   listen: '127.0.0.1:2121',
 *   tls: 'self-signed',
 *   authenticator: {
 *     async login({ user, password }) {
 *       return user === 'demo' && password === 'demo' ? { storage, permissions: readWrite } : null;
 *     },
 *   },
 * });
 * await server.listen();
 * ```
 */
export function createServer(options: ServerOptions): FtpsdServer {
  return new FtpsdServer(options);
}
