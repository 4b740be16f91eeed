/**
 * `ftpsd serve` (the default command): load the config, start the listeners, print the banner, and
 * stop cleanly on SIGINT/SIGTERM (running transfers get a grace period; a second signal stops at once).
 * SIGHUP reloads the config file (and `watchConfig` on a file change; src/runtime/config-reload.ts) and the
 * certificate and key, which are also reloaded when their files change (src/runtime/certificate-reload.ts). With
 * `runAs`, the process switches to that user once its ports are bound (src/runtime/run-as.ts).
 */
import { errnoText } from '../config/errno-text.js';
import { formatAddress } from '../config/listen-address.js';
import { DEFAULTS } from '../config/defaults.js';
import type { CliFlags } from '../config/load.js';
import { startUploadJournal, toServerOptions } from '../config/server-options.js';
import { dirname } from 'node:path';
import { pino } from 'pino';
import { createLogger } from '../logger.js';
import { FtpServer } from '../server.js';
import { CertificateReloader } from './certificate-reload.js';
import { renderBanner } from './banner.js';
import { withIpv4Fallback } from './ipv6.js';
import { startAcme } from './acme-start.js';
import { drainMs, logsAreJson, reopenOnSignals, serveLogDestination, startServeOperations } from './serve-ops.js';
import { ConfigReloader, reloadedFiles, type ConfigReloadResult } from './config-reload.js';
import type { AcmeService } from '../acme/service.js';
import { dropPrivileges, resolveIdentity, RunAsError, type Identity } from './run-as.js';
import { ConfigError } from '../config/errors.js';
import { checkCertificateFiles, trustedOwners } from '../config/file-trust.js';
import type { Operations } from '../ops/index.js';
import type { MetricsSource } from '../ops/metrics.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { ObjectHomes } from '../auth/object-homes.js';
import type { UserDbLink } from './user-db.js';
import type { startAdmin } from './serve-admin.js';
import type { AdminCertificate, AdminStarter } from './admin-host.js';
import type { TlsMaterial } from '../tls/context.js';

export interface ServeContext {
  version: string;
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
  /** Set in a worker of cluster mode (src/cluster/worker.ts): what differs from a single process. */
  worker?: ServeWorker;
  /** Starts the admin console when `adminListen` is set (the CLI gives src/admin/'s). */
  admin?: AdminStarter;
}

/** How a cluster worker's `serve` differs: its share of the config, no banner, stopped by the primary. */
export interface ServeWorker {
  /** Fields added to every log line (the worker's number and pid). */
  logFields: Record<string, unknown>;
  /** The default account's password as the primary generated it (all workers share it). */
  generatedPassword: string | undefined;
  /**
   * The config the primary loaded and checked (its generated account kept): the worker uses it instead
   * of reading the flags, environment and file again, so it never loads the config schema (zod) at start.
   */
  config?: ResolvedConfig | undefined;
  /** This worker's share of a loaded config (at start and at each reload); throws a ConfigError. */
  adjust(config: ResolvedConfig): ResolvedConfig;
  /** Once listening, instead of the banner; `source` is what the worker's metrics read (its certificate too). */
  ready(server: FtpServer, ops: Operations, addresses: Awaited<ReturnType<FtpServer['listen']>>, source: MetricsSource): void;
  /** Registers the graceful stop, for the primary's shutdown message. */
  onStop(stop: () => void): void;
  /** Registers the certificate reload, for the primary's message that ACME stored a new pair. */
  onCertificate?(reload: () => void): void;
  /** Registers the config reload, for the primary's admin console (`POST /api/reload`). */
  onReload?(reload: (reason: string) => Promise<ConfigReloadResult>): void;
  /** The served pair changed (the primary's admin console follows it). */
  tlsChanged?(material: AdminCertificate): void;
}

/** Starts the server; resolves once it listens (the process then lives until a signal). */
export async function serve(flags: CliFlags, ctx: ServeContext): Promise<FtpServer> {
  const read = ctx.worker?.config ?? (await readConfig(flags, ctx));
  const loaded = ctx.worker ? ctx.worker.adjust(read) : read;
  const config = {
    ...loaded,
    listen: await withIpv4Fallback(loaded.listen),
    implicitListen: await withIpv4Fallback(loaded.implicitListen),
  };
  // Synchronous, so log lines and the banner (both on stdout) never interleave mid-line.
  const stdout = pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream;
  const root = createLogger(config.logLevel, serveLogDestination(config, stdout, ctx.env ?? process.env));
  // A worker's lines say which worker (and process) wrote them.
  const logger = ctx.worker ? root.child(ctx.worker.logFields) : root;
  // A user that does not exist is a config error, found before anything starts.
  const identity = config.runAs ? runAsIdentity(config.runAs) : undefined;
  // Our own mask, not the one inherited (under 000 every MKD directory would be 0777).
  process.umask(config.umask);
  // Before anything is served: the temp files of uploads a crashed process (or worker) left are removed.
  // Opened as root (with runAs): after the switch the journal is written through its descriptor only.
  const journal = await startUploadJournal(config, logger, identity);
  // Kept when uploads still run (a stop past the grace period): the next start recovers it.
  if (journal) process.once('exit', () => journal.close());
  const { options, certificate, objectHomes } = await toServerOptions(config, logger, identity, journal);
  // Many nodes: users, bans and session caps in PostgreSQL (runtime/user-db.ts); unreachable: start fails.
  const userDb: UserDbLink | undefined = config.userDb
    ? await (await import('./user-db.js')).UserDbLink.open({ url: config.userDb, root: config.root, uploads: config.uploads, ...(journal ? { journal } : {}), logger })
    : undefined;
  if (userDb) {
    try {
      options.authenticator = await userDb.authenticator(options.authenticator, false, objectHomes);
    } catch (err) {
      await userDb.close();
      throw err;
    }
  }
  const server = new FtpServer(options);
  let addresses: Awaited<ReturnType<FtpServer['listen']>>;
  try {
    addresses = await server.listen();
  } catch (err) {
    await server.close();
    throw listenError(err);
  }
  let ops: Operations;
  const acmeOn = config.acme !== undefined;
  const metricsSource = { events: server.events, sessions: server.sessions, servedCertificate: () => (server.tls ? { pem: server.tls.certificate, acme: acmeOn } : undefined) };
  try {
    ops = await startServeOperations(metricsSource, config, logger, ctx.env ?? process.env, identity?.uid);
  } catch (err) {
    await server.close();
    await userDb?.close();
    throw err;
  }
  // ACME (a single process; in cluster mode the primary orders): the responder binds now, before any privilege drop.
  let acme: AcmeService | undefined;
  if (!ctx.worker) {
    try {
      acme = await startAcme(config, logger, identity, async () => {
        const r = await configReloader.certificateReloader.reload('acme');
        if (!r.ok) throw new Error(`acme: the new certificate was refused: ${r.error}`);
      });
    } catch (err) {
      await server.close();
      await ops.close(0);
      await userDb?.close();
      throw err;
    }
  }
  if (userDb && ops.metrics) ops.metrics.degraded = () => (userDb.degraded ? 'user database unreachable' : undefined);
  reopenOnSignals(ops);
  // Signals are handled from before the banner: whoever waits for it may signal at once.
  const checkFiles = (files: { cert: string; key: string }) => checkCertificateFiles(files, trustedOwners(identity?.uid));
  // The certificate in force, for the admin console (its listener uses it too).
  let tlsNow = { cert: certificate.cert, key: certificate.key, source: certificate.source };
  let onTls: ((m: { cert: string; key: string }) => void) | undefined;
  // Every pair the server switches to (a certificate reload, a config naming other files, ACME).
  const tlsChanged = (material: TlsMaterial) => {
    tlsNow = { ...tlsNow, cert: material.cert.toString(), key: material.key.toString() };
    onTls?.({ cert: tlsNow.cert, key: tlsNow.key });
  };
  const tlsTarget = {
    updateTls(material: TlsMaterial) {
      server.updateTls(material);
      tlsChanged(material);
    },
  };
  const reloader = new CertificateReloader(tlsTarget, reloadedFiles(certificate, config.clientCerts), { logger, checkFiles });
  reloader.setCurrent(options.tls ?? certificate);
  await reloader.watch();
  const env = ctx.env ?? process.env;
  const adjust = ctx.worker?.adjust;
  const wrapAuthenticator = userDb ? (inner: Authenticator, homes?: ObjectHomes) => userDb.authenticator(inner, true, homes) : undefined;
  const configReloader = new ConfigReloader(server, reloader, { flags, env }, { config: loaded, certificate }, logger, { ...(adjust ? { adjust } : {}), ...(journal ? { journal } : {}), ...(wrapAuthenticator ? { wrapAuthenticator } : {}), onTls: tlsChanged });
  if (config.watchConfig) await configReloader.watch();
  let admin: Awaited<ReturnType<typeof startAdmin>>;
  try {
    // The console's code (and its settings' schema) only when one is served (never in a worker: the primary's).
    admin = config.adminListen && !ctx.worker ? await (await import('./serve-admin.js')).startAdmin(ctx, { server, config, configReloader, logger, addresses, tls: () => tlsNow, ...(userDb ? { userDb } : {}) }) : undefined;
  } catch (err) {
    await server.close();
    await ops.close(0);
    await acme?.close();
    await userDb?.close();
    throw err;
  }
  onTls = (m) => {
    admin?.updateTls(m);
    ctx.worker?.tlsChanged?.({ ...m, source: tlsNow.source });
  };
  const stop = handleSignals(server, configReloader, logger, async () => {
    await acme?.close();
    await Promise.all([ops.close(drainMs(config)), admin?.close()]);
    await userDb?.close();
  });
  ctx.worker?.onStop(stop);
  ctx.worker?.onCertificate?.(() => void configReloader.certificateReloader.reload('acme'));
  ctx.worker?.onReload?.((reason) => configReloader.reload(reason));
  // Last privileged step: everything is bound and read; from here on ftpsd runs as the runAs user.
  if (identity) {
    try {
      dropPrivileges(identity);
    } catch (err) {
      await server.close();
      throw err;
    }
    logger.info({ user: identity.name ?? identity.uid, uid: identity.uid, gid: identity.gid }, 'running as an unprivileged user');
  } else if (process.geteuid?.() === 0) {
    logger.warn({}, 'running as root: set runAs (--run-as-user) to switch to an unprivileged user after binding');
  }
  // Orders (or schedules the renewal) once everything runs as it will: files it writes belong to that user.
  acme?.start();
  if (ctx.worker) {
    ctx.worker.ready(server, ops, addresses, metricsSource);
    // After ready(): the cluster's peers are set, and the database's count on top of them.
    await userDb?.attach(server);
    return server;
  }
  await userDb?.attach(server);
  (ctx.stdout ?? process.stdout).write(
    renderBanner({ version: ctx.version, explicit: addresses.explicit, implicit: addresses.implicit, config, certificate, metrics: ops.metricsAddress, admin: admin?.url }, logsAreJson(config)),
  );
  if (certificate.source === 'generated' && !config.tls) logger.info({ path: certificate.certPath }, 'generated a self-signed certificate');
  return server;
}

/** The config from the flags, environment and file (the schema, zod, is loaded here only). */
async function readConfig(flags: CliFlags, ctx: ServeContext): Promise<ResolvedConfig> {
  const [{ loadConfig }, { keepGeneratedAccount }] = await Promise.all([import('../config/load.js'), import('../config/generated-account.js')]);
  const generatedPassword = ctx.worker?.generatedPassword;
  const fresh = await loadConfig(flags, { ...(ctx.env ? { env: ctx.env } : {}), ...(generatedPassword !== undefined ? { generatedPassword } : {}) });
  // A worker uses the password its primary generated, or the one kept in the state directory.
  return ctx.worker && generatedPassword !== undefined ? fresh : await keepGeneratedAccount(fresh, { renew: !ctx.worker && flags.newPassword === true, write: !ctx.worker });
}

/** `runAs` as an identity; an unknown user or group is a config error. */
function runAsIdentity(runAs: { user: string; group?: string }): Identity {
  try {
    return resolveIdentity(runAs.user, runAs.group);
  } catch (err) {
    if (err instanceof RunAsError) throw ConfigError.of('runAs', err.message.replace(/^runAs: /, ''));
    throw err;
  }
}

/** Installs the signal handlers; returns the graceful stop (a no-op once stopping), for cluster workers. */
function handleSignals(server: FtpServer, reloader: { reload(reason: string): Promise<unknown>; close(): void }, logger: ReturnType<typeof createLogger>, closeOps: () => Promise<void>): () => void {
  process.on('SIGHUP', () => void reloader.reload('SIGHUP'));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(1);
    }
    stopping = true;
    reloader.close();
    logger.info({ signal, graceMs: DEFAULTS.shutdownGraceMs }, 'shutting down');
    // Hooks and webhooks drain after the FTP server (its last logouts are queued too).
    server.close(DEFAULTS.shutdownGraceMs).then(closeOps).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return () => {
    if (!stopping) stop('SIGTERM');
  };
}

/** `cannot listen on 127.0.0.1:2121: address already in use`. */
function listenError(err: unknown): Error {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = e.address !== undefined && e.port !== undefined ? ` on ${formatAddress(e.address, e.port)}` : '';
  const why = errnoText(err, { EACCES: 'permission denied (ports below 1024 need privileges)' });
  return new Error(`cannot listen${where}: ${why}`, { cause: err });
}
