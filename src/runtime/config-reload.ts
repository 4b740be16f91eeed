/**
 * `ftpsd serve`'s config reload, on SIGHUP and (with `watchConfig`) when the config file changes:
 * users, permissions, limits, timeouts, bans and access lists, passive settings, trusted proxies, TLS
 * policy, the certificate and the log level, without dropping a session.
 *
 * A reload reads the config as at start (file, then FTPSD_* and the command line on top), builds
 * everything it needs (directories, certificate, authenticator) and only then switches the server over
 * in one step (`FtpServer.reconfigure`). Anything wrong (a syntax error, a bad value, an unreadable or
 * expired certificate) refuses the whole reload with one error line naming each problem, and the running
 * config stays. Running sessions keep their login and storage; new logins use the new users; new
 * connections get the new limits and access lists. What a running process cannot change (its listeners,
 * the user it runs as, the operations outputs) is reported as needing a restart and left as it is.
 *
 * Without a config file, SIGHUP reloads the certificate only (flags and environment do not change).
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { UserAuthenticator } from '../auth/users.js';
import { AuthenticatorChain } from '../auth/chain.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { ObjectHomes } from '../auth/object-homes.js';
import { DbAuthenticator } from '../userdb/authenticator.js';
import type { Certificate } from '../config/certificate.js';
import type { ClientCertsConfig } from '../config/client-certs.js';
import { ConfigError } from '../config/errors.js';
import { checkCertificateFiles, trustedOwners } from '../config/file-trust.js';
import type { CliFlags, ResolvedConfig } from '../config/load.js';
import { toServerOptions } from '../config/server-options.js';
import { SETTINGS_OPTIONS, type SettingsOptions } from '../settings.js';
import type { UploadJournal } from '../storage/upload-journal.js';
import type { Logger, LogLevel } from '../logger.js';
import type { FtpServer } from '../server.js';
import { CertificateReloader } from './certificate-reload.js';
import { sameClientCerts } from '../tls/client-certs.js';
import type { TlsMaterial } from '../tls/context.js';

export interface ReloadSource {
  flags: CliFlags;
  env: NodeJS.ProcessEnv;
}

export interface RunningConfig {
  /** The config as loaded (before the IPv4 fallback of the listen addresses). */
  config: ResolvedConfig;
  certificate: Certificate;
}

export type ConfigReloadResult =
  | { ok: true; changed: string[]; restartNeeded: string[] }
  | { ok: false; error: string };

export interface ConfigReloaderOptions {
  /** Quiet time after the last file event before reloading (default 500 ms). */
  debounceMs?: number;
  /** The current time (tests). */
  now?: () => Date;
  /** A cluster worker's share of each loaded config (src/cluster/worker.ts); throws a ConfigError. */
  adjust?: (config: ResolvedConfig) => ResolvedConfig;
  /** The process's upload journal, given to the storages of the reloaded accounts too. */
  journal?: UploadJournal;
  /** With a user database: the authenticator of its users around the reloaded config users (runtime/user-db.ts). */
  wrapAuthenticator?: (config: Authenticator, objectHomes?: ObjectHomes) => Promise<Authenticator>;
  /**
   * Told of each pair the server switches to through the config (other files named) and through the
   * certificate reloader that follows them; the admin console's listener takes it too.
   */
  onTls?: (material: TlsMaterial) => void;
}

/** Options not compared at all (derived, or reported through another key). */
const IGNORED: readonly string[] = ['configFile', 'generatedPassword', 'passwordFromEnv', 'generatedPasswordFile', 'generatedPasswordKept'];

export class ConfigReloader {
  private running: Promise<ConfigReloadResult> | undefined;
  private again: string | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private fileDigest: string | undefined;
  private closed = false;

  constructor(
    private readonly server: FtpServer,
    /** The certificate reloader in use (replaced when the config names other certificate files). */
    private certificates: CertificateReloader,
    private readonly source: ReloadSource,
    private current: RunningConfig,
    private readonly log: Logger,
    private readonly options: ConfigReloaderOptions = {},
  ) {}

  /** The config in force. */
  get config(): ResolvedConfig {
    return this.current.config;
  }

  get certificateReloader(): CertificateReloader {
    return this.certificates;
  }

  /**
   * Reloads; never throws (the result and the log say what happened). A call while a reload runs is
   * folded into one more reload after it.
   */
  reload(reason = 'reload'): Promise<ConfigReloadResult> {
    if (this.running) {
      this.again = reason;
      return this.running;
    }
    const run = this.reloadOnce(reason).finally(() => {
      this.running = undefined;
      const next = this.again;
      this.again = undefined;
      if (next !== undefined && !this.closed) void this.reload(next);
    });
    this.running = run;
    return run;
  }

  private async reloadOnce(reason: string): Promise<ConfigReloadResult> {
    const file = this.current.config.configFile;
    if (file === undefined) {
      const r = await this.certificates.reload(reason);
      return r.ok ? { ok: true, changed: r.changed ? ['tls'] : [], restartNeeded: [] } : { ok: false, error: r.error };
    }
    try {
      return await this.apply(reason, file);
    } catch (err) {
      const lines = err instanceof ConfigError ? err.lines() : [err instanceof Error ? err.message : String(err)];
      const error = lines.join('; ');
      this.log.error({ reason, file, errors: lines }, `config reload refused (${error}); keeping the current config`);
      return { ok: false, error };
    }
  }

  private async apply(reason: string, file: string): Promise<ConfigReloadResult> {
    const previous = this.current.config;
    // The config schema (zod) is loaded at the first reload: a cluster worker starts without it.
    const [{ loadConfig }, { reloadMode }] = await Promise.all([import('../config/load.js'), import('../config/schema.js')]);
    const fresh = await loadConfig(this.source.flags, {
      env: this.source.env,
      ...(previous.generatedPassword !== undefined ? { generatedPassword: previous.generatedPassword } : {}),
    });
    // A password kept from an earlier run stays the one in force (its hash, as read at start).
    const read = withKeptPassword(fresh, previous);
    const loaded = this.options.adjust ? this.options.adjust(read) : read;
    const { changed, restartNeeded } = diff(previous, loaded, reloadMode);
    // What needs a restart stays as it is, so the config in force describes the process.
    const config: ResolvedConfig = { ...loaded };
    for (const key of restartNeeded) (config as unknown as Record<string, unknown>)[key] = previous[key];
    config.workersOnDemand = previous.workersOnDemand;
    const prepared = await toServerOptions(config, this.log, undefined, this.options.journal);
    const { certificate } = prepared;
    const now = (this.options.now ?? (() => new Date()))();
    if (certificate.validTo <= now) {
      throw ConfigError.of(config.tls?.fields.cert ?? 'stateDir', `${certificate.certPath}: certificate expired on ${certificate.validTo.toISOString()}`);
    }
    const configured = prepared.options.authenticator;
    const before = this.server.authenticator;
    // The config users take over the quota figures (with or without LDAP, the hook or the user database around them).
    const nowUsers = configUsers(configured);
    const beforeUsers = configUsers(before);
    if (nowUsers && beforeUsers) nowUsers.adopt(beforeUsers);
    // With a user database, its authenticator goes around the reloaded one.
    const wrap = this.options.wrapAuthenticator;
    const authenticator = wrap ? await wrap(configured, prepared.objectHomes) : configured;
    const o = prepared.options;
    // The CA bundle or the CRL file may change without the config (a new CRL): then it is a change too.
    const newClientCerts = !sameClientCerts(o.tls?.clientCerts, this.server.tls?.clientCerts);
    if (newClientCerts && !changed.includes('clientCerts')) changed.push('clientCerts');
    const newPair = certificate.cert !== this.current.certificate.cert || certificate.key !== this.current.certificate.key || newClientCerts;
    // Every setting the config makes, each given (undefined: its default); the greeting is a program's only.
    const settings = Object.fromEntries(SETTINGS_OPTIONS.filter((k) => k !== 'greeting').map((k) => [k, o[k]])) as SettingsOptions;
    // All or nothing: throws (changing nothing) on a value the server refuses.
    this.server.reconfigure({ authenticator, ...(newPair && o.tls ? { tls: o.tls } : {}), ...settings });
    if (newPair && o.tls) this.options.onTls?.(o.tls);
    // The LDAP connections of the authenticator replaced (running sessions do not use them).
    if (before instanceof AuthenticatorChain && before !== authenticator) before.close();
    if (config.logLevel !== previous.logLevel) setLevel(this.log, config.logLevel);
    if (config.umask !== previous.umask) process.umask(config.umask);
    await this.followCertificate(certificate, config, o.tls);
    this.current = { config, certificate };
    if (config.watchConfig && !this.watcher) await this.watch();
    else if (!config.watchConfig && this.watcher) this.unwatch();
    for (const key of restartNeeded) this.log.warn({ reason, option: key }, `config reload: ${key} changed; it takes effect at the next restart`);
    this.log.info({ reason, file, changed }, changed.length > 0 ? 'config reloaded' : 'config reloaded (unchanged)');
    return { ok: true, changed, restartNeeded };
  }

  /** Points the certificate reloader (SIGHUP, file watch) at the files now in use. */
  private async followCertificate(certificate: Certificate, config: ResolvedConfig, material: TlsMaterial | undefined): Promise<void> {
    const files = this.certificates.files;
    const current = material ?? certificate;
    const wanted = reloadedFiles(certificate, config.clientCerts);
    if (files.cert === wanted.cert && files.key === wanted.key && JSON.stringify(files.clientCerts) === JSON.stringify(wanted.clientCerts)) {
      this.certificates.setCurrent(current);
      return;
    }
    this.certificates.close();
    const checkFiles = (files: { cert: string; key: string }) => checkCertificateFiles(files, trustedOwners());
    const onTls = this.options.onTls;
    const server = this.server;
    const target = onTls ? { updateTls: (m: TlsMaterial) => (server.updateTls(m), onTls(m)) } : server;
    const next = new CertificateReloader(target, wanted, { logger: this.log, checkFiles });
    next.setCurrent(current);
    await next.watch();
    this.certificates = next;
  }

  /**
   * Watches the config file (through its directory, so a file replaced by a rename, or a Kubernetes
   * ConfigMap's symlink swap, is seen) and reloads after changes settle, when its content changed.
   */
  async watch(): Promise<void> {
    const file = this.current.config.configFile;
    if (file === undefined || this.closed || this.watcher) return;
    this.fileDigest = await digestOf(file);
    const real = await realpath(file).catch(() => file);
    const dir = dirname(file);
    try {
      this.watcher = watch(dir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => {
        this.log.warn({ dir, error: err.message }, 'config watch stopped (SIGHUP still reloads)');
        this.unwatch();
      });
      this.log.debug({ file, real: basename(real) }, 'watching the config file');
    } catch (err) {
      this.log.warn({ dir, error: (err as Error).message }, 'cannot watch the config directory (SIGHUP still reloads)');
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.onFileEvent(), this.options.debounceMs ?? 500);
    this.timer.unref();
  }

  private async onFileEvent(): Promise<void> {
    const file = this.current.config.configFile;
    if (file === undefined || this.closed) return;
    const d = await digestOf(file);
    if (d === undefined || d === this.fileDigest) return; // gone for a moment, or untouched
    this.fileDigest = d;
    await this.reload('config file change');
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.unwatch();
    this.certificates.close();
  }
}

/** The files a certificate reload reads: ACME's pair when ACME is on (also before its first issuance), else the served ones. */
export function reloadedFiles(certificate: Certificate, clientCerts?: ClientCertsConfig): { cert: string; key: string; clientCerts?: ClientCertsConfig } {
  const pair = certificate.acme ? { cert: certificate.acme.cert, key: certificate.acme.key } : { cert: certificate.certPath, key: certificate.keyPath };
  return clientCerts ? { ...pair, clientCerts } : pair;
}

/** Top-level options that differ, and those of them that need a restart (their `reload` mark on the schema). */
function diff(a: ResolvedConfig, b: ResolvedConfig, reloadMode: (key: string) => string | undefined): { changed: string[]; restartNeeded: (keyof ResolvedConfig)[] } {
  const changed: string[] = [];
  const restartNeeded: (keyof ResolvedConfig)[] = [];
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof ResolvedConfig>) {
    if (IGNORED.includes(key)) continue;
    if (JSON.stringify(a[key]) === JSON.stringify(b[key])) continue;
    // `workers` resolves to two fields (the count and whether it is auto): one option, one report.
    if (key === 'workersOnDemand') {
      if (!restartNeeded.includes('workers') && a.workers === b.workers) restartNeeded.push('workers');
      continue;
    }
    if (reloadMode(key) === 'restart') restartNeeded.push(key);
    else changed.push(key);
  }
  return { changed, restartNeeded };
}

/** Changes the level of a pino logger (its children, the sessions' loggers, follow it). */
function setLevel(log: Logger, level: LogLevel): void {
  const target = log as Logger & { level?: string };
  if ('level' in target) target.level = level;
}

async function digestOf(file: string): Promise<string | undefined> {
  try {
    return createHash('sha256').update(await readFile(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** The config-file users of an authenticator built from the config (alone, or first in the chain). */
function configUsers(a: Authenticator | undefined): UserAuthenticator | undefined {
  if (a instanceof DbAuthenticator) return configUsers(a.inner);
  if (a instanceof AuthenticatorChain) return a.users;
  return a instanceof UserAuthenticator ? a : undefined;
}

/** A reload keeps the default account's generated password (new or kept from an earlier start). */
function withKeptPassword(fresh: ResolvedConfig, previous: ResolvedConfig): ResolvedConfig {
  const [user, ...others] = fresh.users;
  const [before] = previous.users;
  const kept = {
    ...(previous.generatedPasswordFile !== undefined ? { generatedPasswordFile: previous.generatedPasswordFile } : {}),
    ...(previous.generatedPasswordKept !== undefined ? { generatedPasswordKept: previous.generatedPasswordKept } : {}),
  };
  if (previous.generatedPasswordKept !== true || fresh.generatedPassword === undefined || !user || !before || others.length > 0) return { ...fresh, ...kept };
  return { ...fresh, ...kept, users: [{ ...user, password: before.password }], generatedPassword: undefined };
}
