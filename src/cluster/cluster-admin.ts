/**
 * The admin console in cluster mode, run by the primary (loaded by primary.ts only when `adminListen` is
 * set): one listener for the whole cluster. Sessions come from every worker over IPC
 * (cluster-sessions.ts); bans are the primary's own ban table, kept in step with the workers' (it sees
 * every failure and ban they relay, and its own changes go to all of them); a reload reloads every
 * worker and the primary's own admin settings; the certificate is the one the workers serve (they say
 * when it changes).
 */
import type { AddressInfo } from 'node:net';
import { LoginThrottle } from '../auth/throttle.js';
import { adminSettings, type AdminSettings } from '../config/admin-schema.js';
import { loadConfig, type CliFlags, type ResolvedConfig } from '../config/load.js';
import type { Logger } from '../logger.js';
import { resolveSettings, type BanPolicy } from '../settings.js';
import { startAdminOn, type AdminCertificate, type AdminHandle, type AdminStarter, type BanControl, type WorkerStatus } from '../runtime/admin-host.js';
import type { ConfigReloadResult } from '../runtime/config-reload.js';
import { AdminRequests } from './admin-requests.js';
import { ClusterSessions } from './cluster-sessions.js';
import type { ListeningReport, PrimaryMessage, WorkerMessage } from './messages.js';

/** How long a reload waits for the workers (each reads the config, the certificate and the users). */
export const RELOAD_TIMEOUT_MS = 30_000;

/** What the console needs from the primary. */
export interface ClusterPort {
  workers(): WorkerStatus[];
  /** Sends to worker `worker` (from 1) if it listens; false otherwise. */
  send(worker: number, message: PrimaryMessage): boolean;
  /** Sends to every listening worker; returns how many it reached. */
  broadcast(message: PrimaryMessage): number;
  /** Remembers a ban for workers started later. */
  rememberBan(address: string, until: number): void;
  /** Forgets the remembered bans of the addresses `lifted` says yes to. */
  forgetBans(lifted: (address: string) => boolean): void;
  /** The FTP listeners (empty until a worker listens). */
  listeners(): ListeningReport;
  /** Sessions of all workers, from their snapshots. */
  sessionCount(): number;
  userSessions(user: string): number;
}

export interface ClusterAdminOptions {
  port: ClusterPort;
  config: ResolvedConfig;
  flags: CliFlags;
  env: NodeJS.ProcessEnv;
  version: string;
  log: Logger;
  certificate: AdminCertificate;
  starter: AdminStarter | undefined;
}

/** The running console, as the primary drives it. */
export interface ClusterAdmin {
  url: string;
  /** A message from worker `worker` (its sessions, failures, bans, answers, certificate). */
  fromWorker(worker: number, message: WorkerMessage): void;
  /** SIGHUP: the primary reads its admin settings again (the workers reload themselves). */
  reloadSettings(reason: string): Promise<void>;
  close(): Promise<void>;
}

export async function startClusterAdmin(o: ClusterAdminOptions): Promise<ClusterAdmin> {
  const { port, log } = o;
  const listen = o.config.adminListen;
  if (!listen) throw new Error('adminListen is not set');
  const requests = new AdminRequests((w, m) => port.send(w, m));
  const sessions = new ClusterSessions({ listening: () => port.workers().filter((w) => w.state === 'listening').map((w) => w.worker), sessionCount: () => port.sessionCount() }, requests);
  let config = o.config;
  let settings: AdminSettings = adminSettings(config.admin);
  let throttle = throttleFor(config, undefined);
  let certificate = o.certificate;
  let lastReload: unknown;
  let handle: AdminHandle | undefined;
  const banListeners: (() => void)[] = [];

  const bans: BanControl = {
    get throttle() {
      return throttle!;
    },
    impose(address, until) {
      throttle?.impose(address, until);
      port.rememberBan(address, until);
      port.broadcast({ ftpsd: 1, type: 'ban', address, until });
    },
    unban(address) {
      if (!throttle) return;
      const network = throttle.networkOf(address);
      throttle.unban(address);
      port.forgetBans((a) => throttle!.networkOf(a) === network);
      port.broadcast({ ftpsd: 1, type: 'unban', address });
    },
    failure(address) {
      const until = throttle?.recordFailure(address);
      // Every worker counts it too; one that bans tells the others through the primary.
      port.broadcast({ ftpsd: 1, type: 'failure', address });
      if (until !== undefined) {
        log.warn({ peer: address, until: new Date(until).toISOString() }, 'address banned after repeated failed logins (admin console)');
        for (const l of banListeners) l();
        port.rememberBan(address, until);
        port.broadcast({ ftpsd: 1, type: 'ban', address, until });
      }
    },
  };

  /** The primary's own part of a reload: the admin settings and the ban policy. */
  const readConfig = async (reason: string): Promise<string | undefined> => {
    try {
      const fresh = await loadConfig(o.flags, { env: o.env, ...(config.generatedPassword !== undefined ? { generatedPassword: config.generatedPassword } : {}) });
      config = { ...fresh, adminListen: config.adminListen, workers: config.workers, workersOnDemand: config.workersOnDemand };
      settings = adminSettings(config.admin);
      throttle = throttleFor(config, throttle);
      return undefined;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log.error({ reason, error }, 'admin console: config reload refused; keeping its settings');
      return error;
    }
  };

  const reload = async (reason: string): Promise<ConfigReloadResult & { workers: unknown[] }> => {
    // A worker still starting reads the config as it is now anyway.
    const asked = port.workers().filter((w) => w.state === 'listening').map((w) => w.worker);
    const [own, answers] = await Promise.all([readConfig(reason), requests.ask(asked, { kind: 'reload', reason }, RELOAD_TIMEOUT_MS)]);
    const changed = new Set<string>();
    const restartNeeded = new Set<string>();
    const errors: string[] = own === undefined ? [] : [`primary: ${own}`];
    const workers = asked.map((w) => {
      const r = answers.get(w) as Partial<ConfigReloadResult & { error: string }> | undefined;
      if (r === undefined) {
        errors.push(`worker ${w}: no answer`);
        return { worker: w, ok: false, error: 'no answer' };
      }
      if (r.ok === true) {
        for (const c of r.changed ?? []) changed.add(c);
        for (const c of r.restartNeeded ?? []) restartNeeded.add(c);
        return { worker: w, ok: true };
      }
      errors.push(`worker ${w}: ${String(r.error)}`);
      return { worker: w, ok: false, error: String(r.error) };
    });
    const result: ConfigReloadResult & { workers: unknown[] } =
      errors.length === 0 ? { ok: true, changed: [...changed], restartNeeded: [...restartNeeded], workers } : { ok: false, error: [...new Set(errors)].join('; '), workers };
    lastReload = { ...result, at: new Date().toISOString(), reason };
    return result;
  };

  // On a user database the console keeps its admins and users there and lists every node's sessions.
  const db = config.userDb ? await (await import('../runtime/admin-db.js')).openAdminDb(config.userDb, log) : undefined;
  if (db) {
    try {
      const { adminClashes } = await import('../runtime/admin-db.js');
      await adminClashes(db, settings.users.map((u) => u.name));
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }
  const started = await startAdminOn(o.starter, listen, {
    version: o.version,
    log: log.child({ component: 'admin' }),
    sessions,
    bans: () => (throttle ? bans : undefined),
    onBanStarted: (listener) => banListeners.push(listener),
    workers: () => port.workers(),
    userSessions: (user) => port.userSessions(user),
    settings: () => settings,
    certificate: () => certificate,
    get listeners() {
      const l = port.listeners();
      return { explicit: l.explicit as AddressInfo[], implicit: l.implicit as AddressInfo[] };
    },
    reload,
    limits: () => resolveSettings({ limits: config.limits }).limits,
    users: () => config.users.map((u) => ({ name: u.name, home: u.home, readOnly: u.readOnly })),
    lastReload: () => lastReload ?? null,
    ...(db ? { userDb: { admins: db.admins, users: db.users, registry: db.registry } } : {}),
  }).catch(async (err: unknown) => {
    await db?.close().catch(() => undefined);
    throw err;
  });
  handle = started;

  return {
    url: started.url,
    fromWorker(worker, m) {
      switch (m.type) {
        case 'sessions':
          sessions.changed();
          return;
        case 'failure':
          if (typeof m.address === 'string') throttle?.recordFailure(m.address);
          return;
        case 'ban':
          if (typeof m.address === 'string' && typeof m.until === 'number') throttle?.impose(m.address, m.until);
          for (const l of banListeners) l();
          return;
        case 'admin-reply':
          requests.answer(worker, m.id, m.result);
          return;
        case 'tls':
          if (typeof m.cert !== 'string' || typeof m.key !== 'string' || (m.cert === certificate.cert && m.key === certificate.key)) return;
          certificate = { cert: m.cert, key: m.key, source: (m.source as AdminCertificate['source']) ?? certificate.source };
          handle?.updateTls({ cert: m.cert, key: m.key });
          log.info({ worker }, 'admin console: certificate changed');
          return;
        default:
          return;
      }
    },
    async reloadSettings(reason) {
      await readConfig(reason);
    },
    close: async () => {
      await started.close();
      await db?.close().catch(() => undefined);
    },
  };
}

/** The primary's ban table under the config's policy (bans off: none); a new policy takes over the old table. */
function throttleFor(config: ResolvedConfig, previous: LoginThrottle | undefined): LoginThrottle | undefined {
  const policy: BanPolicy | undefined = resolveSettings({ security: config.security }).security.ban;
  if (!policy) return undefined;
  if (previous && JSON.stringify(previous.policy) === JSON.stringify(policy)) return previous;
  const next = new LoginThrottle(policy);
  if (previous) next.adopt(previous);
  return next;
}
