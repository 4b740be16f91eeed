/**
 * The primary of cluster mode (`ftpsd serve --workers N`, N > 1): it checks the config as a single
 * process would (so errors read the same and exit with the same codes), prepares the certificate and
 * directories, forks N workers (src/cluster/worker.ts) and prints the banner once all of them listen.
 * With `workers: auto` (workersOnDemand) it forks one worker, adds one when the running workers are busy
 * and retires an added one that stays idle, up to N (worker-scaler.ts decides; each worker keeps its
 * slot's passive ports, so slices are those of N).
 * The control listeners are shared through node:cluster (the primary accepts and hands connections round
 * robin); each worker binds its own passive ports (its slice: port-slices.ts).
 *
 * With `adminListen` it runs the admin console for the whole cluster (cluster-admin.ts, loaded only
 * then): one listener, the sessions of every worker asked over IPC.
 *
 * It relays what must be process-wide (failed logins, bans, session counts; see worker.ts), serves
 * `/metrics` summed over the workers (cluster-metrics.ts), forwards SIGHUP and SIGUSR1 to the workers,
 * stops them all gracefully on SIGINT/SIGTERM (a second signal kills them), and replaces a worker that
 * dies, with a growing delay, or that stops answering its heartbeat (killed first; see beat()). If
 * workers keep dying before they listen, it stops and exits with 1; a worker that fails during the first
 * start stops everything with that worker's error and exit code.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Certificate } from '../config/certificate.js';
import type { CliFlags, ResolvedConfig } from '../config/load.js';
import { prepareFiles } from '../config/server-options.js';
import type { AcmeService } from '../acme/service.js';
import { startAcme } from '../runtime/acme-start.js';
import { ConfigError } from '../config/errors.js';
import { DEFAULTS } from '../config/defaults.js';
import { createLogger, type Logger } from '../logger.js';
import type { MetricsEndpoint } from '../ops/metrics-endpoint.js';
import { renderBanner } from '../runtime/banner.js';
import { drainMs, logsAreJson, opsError, serveLogDestination } from '../runtime/serve-ops.js';
import { resolveIdentity, RunAsError } from '../runtime/run-as.js';
import type { ClusterMetrics, MetricsRequests } from './cluster-metrics.js';
import { NO_SESSIONS, checkedSnapshot, ourMessage, plainData, type ListeningReport, type PrimaryMessage, type WorkerMessage } from './messages.js';
import { workerShare } from './port-slices.js';
import { WorkerScaler, retireIdleMs } from './worker-scaler.js';
import type { AdminStarter, WorkerStatus } from '../runtime/admin-host.js';
import type { ClusterAdmin, ClusterPort } from './cluster-admin.js';

/** What the primary is started with (the CLI's serve context and flags). */
export interface PrimaryContext {
  version: string;
  env?: NodeJS.ProcessEnv;
  /** The flags the config was loaded from (the admin console reloads it). */
  flags?: CliFlags;
  /** Starts the admin console when `adminListen` is set. */
  admin?: AdminStarter;
}

/** Replacements that die before listening, in a row, before the primary gives up. */
const MAX_START_FAILURES = 5;
/** Restart delays: 100 ms doubling to 10 s, back to 100 ms once a worker ran for a minute. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
const STABLE_MS = 60_000;
/** How often the scaler decides (workers report their load as often). */
const SCALE_EVERY_MS = 1000;
/** Bans remembered for replacement workers. */
const MAX_BANS = 100_000;

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  startedAt: number;
  /** Consecutive quick deaths (for the restart delay). */
  crashes: number;
  /** When the worker last answered a ping (or started listening). */
  answeredAt: number;
  /** Killed for not answering (it was listening: its exit is not a failure to start). */
  silenced: boolean;
  fatal: { message: string; exitCode: number } | undefined;
  /** A replacement is due (onExit's delay). */
  restartPending: boolean;
  /** Disconnected by the scaler: takes no new connection, exits when its sessions end; not replaced. */
  retiring: boolean;
  /** Has listened once (a later start is a replacement, else an added worker). */
  served: boolean;
}

/**
 * Runs the primary with the config already loaded (and checked) by the caller; resolves once every
 * worker listens (the process then lives until a signal). Workers load the same flags, environment and
 * file themselves (the argv and environment they inherit).
 */
export async function runPrimary(ctx: PrimaryContext, config: ResolvedConfig): Promise<void> {
  const env = ctx.env ?? process.env;
  const stdout = pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream;
  const logger = createLogger(config.logLevel, serveLogDestination(config, stdout, env)).child({ pid: process.pid, role: 'primary' });
  // What a single process would refuse is refused here, before any fork.
  for (let i = 0; i < config.workers; i++) workerShare(config, i, config.workers);
  let identity: ReturnType<typeof resolveIdentity> | undefined;
  try {
    identity = config.runAs ? resolveIdentity(config.runAs.user, config.runAs.group) : undefined;
  } catch (err) {
    if (err instanceof RunAsError) throw ConfigError.of('runAs', err.message.replace(/^runAs: /, ''));
    throw err;
  }
  process.umask(config.umask);
  // The directories and the certificate only: the primary loads no FTP code (the workers do).
  const { certificate } = await prepareFiles(config, identity);
  if (certificate.source === 'generated' && !config.tls) logger.info({ path: certificate.certPath }, 'generated a self-signed certificate');
  // ACME: the primary alone orders (its responder binds before the workers start); each new pair is
  // stored in the state directory and every worker is told to reload it.
  let primary: Primary | undefined;
  const acme = await startAcme(config, logger, identity, () => primary?.certificateChanged());
  primary = new Primary(config, logger, ctx, certificate, acme);
  await primary.start();
  acme?.start();
}

class Primary {
  private readonly slots: Slot[];
  private readonly bans = new Map<string, number>();
  private readonly snapshots = new Map<number, unknown>();
  private requests: MetricsRequests | undefined;
  private metrics: ClusterMetrics | undefined;
  private endpoint: MetricsEndpoint | undefined;
  private metricsAddress: AddressInfo | undefined;
  private announced = false;
  private stopping = false;
  /** The first start failed: the process exits with that worker's code once the others are gone. */
  private failed = false;
  private startFailures = 0;
  private exitCode = 0;
  private addresses: ListeningReport | undefined;
  private started: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pingSeq = 0;
  private lastBeat = 0;
  private admin: ClusterAdmin | undefined;
  /** Workers on demand (`workers: auto`); undefined: all N start at once. */
  private readonly scaler: WorkerScaler | undefined;
  private scaling: NodeJS.Timeout | undefined;
  /**
   * The checked config a starting worker gets (so it does not load the config schema, zod); dropped at
   * the first reload (SIGHUP, the admin console; with watchConfig from the start): the config in force
   * may differ from it then, and workers read it themselves as they do on a reload.
   */
  private configForWorkers: ResolvedConfig | undefined;

  constructor(
    private readonly config: ResolvedConfig,
    private readonly log: Logger,
    private readonly ctx: PrimaryContext,
    private readonly certificate: Certificate,
    private readonly acme?: AcmeService,
  ) {
    this.slots = Array.from({ length: config.workers }, (_, index) => ({
      index,
      worker: undefined,
      ready: false,
      startedAt: 0,
      crashes: 0,
      answeredAt: 0,
      silenced: false,
      fatal: undefined,
      restartPending: false,
      retiring: false,
      served: false,
    }));
    this.configForWorkers = !config.watchConfig && plainData(config) ? config : undefined;
    this.scaler = config.workersOnDemand ? new WorkerScaler(config.workers, retireIdleMs(ctx.env ?? process.env)) : undefined;
  }

  async start(): Promise<void> {
    if (this.config.metricsListen) {
      // prom-client and the endpoint only when /metrics is served.
      const [{ ClusterMetrics, MetricsRequests }, { MetricsEndpoint }] = await Promise.all([import('./cluster-metrics.js'), import('../ops/metrics-endpoint.js')]);
      const requests = (this.requests = new MetricsRequests());
      this.metrics = new ClusterMetrics(() => requests.ask((id) => this.broadcast({ ftpsd: 1, type: 'metrics-request', id })));
      this.endpoint = new MetricsEndpoint(this.metrics, this.log);
      try {
        this.metricsAddress = await this.endpoint.listen(this.config.metricsListen);
      } catch (err) {
        throw opsError(err, this.config);
      }
    }
    if (this.config.adminListen) {
      try {
        const { startClusterAdmin } = await import('./cluster-admin.js');
        const { cert, key, source } = this.certificate;
        this.admin = await startClusterAdmin({ port: this.adminPort(), config: this.config, flags: this.ctx.flags ?? {}, env: this.ctx.env ?? process.env, version: this.ctx.version, log: this.log, certificate: { cert, key, source }, starter: this.ctx.admin });
      } catch (err) {
        await this.endpoint?.close();
        throw err;
      }
    }
    this.handleSignals();
    const ready = new Promise<void>((resolve, reject) => (this.started = { resolve, reject }));
    // Workers run worker-main (no command line, no config schema: the flags and the checked config come in
    // init), without arguments (a password given with --user is not repeated in their command lines).
    const self = fileURLToPath(import.meta.url);
    cluster.setupPrimary({ exec: fileURLToPath(new URL(`./worker-main${extname(self)}`, import.meta.url)), args: [] });
    // On demand: the first slot only; the scaler adds the others under load.
    for (const slot of this.scaler ? this.slots.slice(0, 1) : this.slots) this.fork(slot);
    this.lastBeat = Date.now();
    this.heartbeat = setInterval(() => this.beat(), this.config.workerHeartbeat.intervalMs);
    this.heartbeat.unref();
    if (this.scaler) {
      this.scaling = setInterval(() => this.scale(), SCALE_EVERY_MS);
      this.scaling.unref();
    }
    await ready;
  }

  /** Workers on demand: adds or retires one worker as the scaler decides (worker-scaler.ts). */
  private scale(): void {
    const scaler = this.scaler;
    if (!scaler || this.stopping || !this.announced) return;
    const now = Date.now();
    const running = this.slots.filter((s) => s.ready && !s.retiring).map((s) => s.index);
    const starting = this.slots.some((s) => s.restartPending || (s.worker !== undefined && !s.ready && !s.retiring && !s.silenced));
    const decision = scaler.decide(running, starting, now);
    if (decision.kind === 'grow') {
      const slot = this.slots.find((s) => s.worker === undefined && !s.restartPending);
      if (!slot) return;
      this.log.info({ worker: slot.index + 1, running: running.length, elu: Number(scaler.meanElu(running, now)?.toFixed(2)) }, 'workers busy; adding a worker');
      scaler.changed(now);
      this.fork(slot);
    } else if (decision.kind === 'retire') {
      const slot = this.slots[decision.slot];
      const worker = slot?.worker;
      if (!slot || !worker) return;
      this.log.info({ worker: slot.index + 1, workerPid: worker.process.pid }, 'worker idle; retiring it (it ends once its sessions do)');
      scaler.changed(now, slot.index);
      // No pings, no broadcasts, no new connections (node:cluster takes it out of the round robin; a
      // connection already handed to it is served, and its process exits when its sessions end).
      slot.ready = false;
      slot.retiring = true;
      worker.disconnect();
    }
  }

  /**
   * The heartbeat: pings every listening worker; one that has not answered for `timeoutMs` (stopped,
   * or stuck in a synchronous call, so the connections handed to it hang) is killed and replaced as if
   * it had died (onExit). A tick that itself comes late (this process was stopped or the host
   * suspended) restarts the count instead of blaming the workers.
   */
  private beat(): void {
    const now = Date.now();
    const { timeoutMs } = this.config.workerHeartbeat;
    const late = now - this.lastBeat > timeoutMs;
    this.lastBeat = now;
    if (this.stopping) return;
    const seq = ++this.pingSeq;
    for (const slot of this.slots) {
      const worker = slot.worker;
      if (!slot.ready || !worker) continue;
      if (late) slot.answeredAt = now;
      const silentMs = now - slot.answeredAt;
      if (silentMs > timeoutMs) {
        this.log.error({ worker: slot.index + 1, workerPid: worker.process.pid, silentMs, timeoutMs }, 'worker not responding; replacing it');
        // Not ready any more: no pings, no broadcasts; onExit starts the replacement.
        slot.ready = false;
        slot.silenced = true;
        worker.process.kill('SIGKILL');
        continue;
      }
      this.send(worker, { ftpsd: 1, type: 'ping', seq });
    }
  }

  private fork(slot: Slot): void {
    const worker = cluster.fork();
    const closeUntaken = trackHandedConnections(worker);
    Object.assign(slot, { worker, ready: false, startedAt: Date.now(), silenced: false, fatal: undefined, restartPending: false, retiring: false });
    worker.on('error', (err) => this.log.warn({ worker: slot.index + 1, err: err.message }, 'worker channel error'));
    worker.on('message', (raw: unknown) => this.onMessage(slot, worker, raw));
    worker.on('exit', (code, signal) => {
      closeUntaken();
      this.onExit(slot, worker, code, signal);
    });
  }

  private send(worker: Worker | undefined, message: PrimaryMessage): boolean {
    if (!worker?.isConnected()) return false;
    try {
      worker.send(message, undefined, () => {});
      return true;
    } catch {
      return false;
    }
  }

  /** ACME stored a new pair: every listening worker reloads it (one starting later reads it at its start). */
  certificateChanged(): void {
    const n = this.broadcast({ ftpsd: 1, type: 'certificate' });
    this.log.info({ workers: n }, 'acme: new certificate sent to the workers');
  }

  /** Sends to every listening worker but `except`; returns how many it reached. */
  private broadcast(message: PrimaryMessage, except?: Slot): number {
    let n = 0;
    for (const slot of this.slots) if (slot !== except && slot.ready && this.send(slot.worker, message)) n++;
    return n;
  }

  private onMessage(slot: Slot, worker: Worker, raw: unknown): void {
    const m = ourMessage<WorkerMessage>(raw);
    if (!m || slot.worker !== worker) return;
    switch (m.type) {
      case 'hello':
        if (this.stopping) return void worker.process.kill('SIGTERM');
        this.send(worker, { ftpsd: 1, type: 'init', index: slot.index, count: this.slots.length, metrics: this.metrics !== undefined, admin: this.admin !== undefined, load: this.scaler !== undefined, flags: this.ctx.flags ?? {}, ...(this.configForWorkers ? { config: this.configForWorkers } : {}), ...(this.config.generatedPassword !== undefined ? { generatedPassword: this.config.generatedPassword } : {}) });
        return;
      case 'listening':
        return this.onListening(slot, worker, m.addresses);
      case 'fatal':
        slot.fatal = { message: String(m.message), exitCode: m.exitCode === 2 ? 2 : 1 };
        return;
      case 'sessions': {
        const snapshot = checkedSnapshot(m.snapshot);
        this.snapshots.set(slot.index, snapshot);
        this.broadcast({ ftpsd: 1, type: 'sessions', from: slot.index, snapshot }, slot);
        this.admin?.fromWorker(slot.index + 1, m);
        return;
      }
      case 'failure':
        if (typeof m.address === 'string') this.broadcast({ ftpsd: 1, type: 'failure', address: m.address }, slot);
        this.admin?.fromWorker(slot.index + 1, m);
        return;
      case 'ban':
        if (typeof m.address !== 'string' || typeof m.until !== 'number') return;
        this.rememberBan(m.address, m.until);
        this.broadcast({ ftpsd: 1, type: 'ban', address: m.address, until: m.until }, slot);
        this.admin?.fromWorker(slot.index + 1, m);
        return;
      case 'metrics':
        this.requests?.answer(m.id, m.metrics);
        return;
      case 'pong':
        slot.answeredAt = Date.now();
        return;
      case 'load':
        if (typeof m.elu === 'number' && typeof m.sessions === 'number' && typeof m.accepted === 'number' && slot.ready) {
          this.scaler?.report(slot.index, m.elu, m.accepted > 0 ? Math.max(m.sessions, 1) : m.sessions, Date.now());
        }
        return;
      default:
        // The admin console's answers and certificate changes.
        this.admin?.fromWorker(slot.index + 1, m);
        return;
    }
  }

  private onListening(slot: Slot, worker: Worker, addresses: ListeningReport): void {
    slot.ready = true;
    slot.answeredAt = Date.now();
    this.addresses ??= addresses;
    // What the other workers hold now: their sessions and the bans in force.
    for (const [from, snapshot] of this.snapshots) if (from !== slot.index) this.send(worker, { ftpsd: 1, type: 'sessions', from, snapshot: checkedSnapshot(snapshot) });
    const now = Date.now();
    for (const [address, until] of this.bans) if (until > now) this.send(worker, { ftpsd: 1, type: 'ban', address, until });
    const added = !slot.served;
    slot.served = true;
    this.scaler?.changed(now);
    if (this.announced) {
      this.startFailures = 0;
      this.log.info({ worker: slot.index + 1, workerPid: worker.process.pid }, added ? 'worker added' : 'worker replaced');
      return;
    }
    // Every worker started (all N, or the first one on demand) listens.
    if (!this.slots.every((s) => s.ready || s.worker === undefined)) return;
    this.announced = true;
    const started = this.slots.filter((s) => s.ready);
    this.log.info({ workers: started.length, maxWorkers: this.slots.length, workerPids: started.map((s) => s.worker?.process.pid) }, 'cluster ready');
    process.stdout.write(
      renderBanner(
        {
          version: this.ctx.version,
          explicit: this.addresses.explicit,
          implicit: this.addresses.implicit,
          config: this.config,
          certificate: this.certificate,
          metrics: this.metricsAddress,
          admin: this.admin?.url,
          workers: this.slots.length,
          ...(this.scaler ? { workersAtStart: started.length } : {}),
        },
        logsAreJson(this.config),
      ),
    );
    this.started?.resolve();
  }

  /** What the admin console (cluster-admin.ts) reads and does through the primary. */
  private adminPort(): ClusterPort {
    const snapshot = (slot: Slot) => checkedSnapshot(this.snapshots.get(slot.index));
    return {
      workers: (): WorkerStatus[] =>
        // The slots in use (on demand, the others have no worker); a retiring worker answers no more requests.
        this.slots
          .filter((slot) => !slot.retiring && (slot.worker !== undefined || slot.restartPending))
          .map((slot) => ({ worker: slot.index + 1, pid: slot.worker?.process.pid, state: slot.ready ? 'listening' : 'starting', sessions: snapshot(slot).sessions })),
      send: (worker, message) => {
        if (message.type === 'admin' && message.op.kind === 'reload') this.configForWorkers = undefined;
        const slot = this.slots[worker - 1];
        return slot?.ready === true && this.send(slot.worker, message);
      },
      broadcast: (message) => this.broadcast(message),
      rememberBan: (address, until) => this.rememberBan(address, until),
      forgetBans: (lifted) => {
        for (const address of [...this.bans.keys()]) if (lifted(address)) this.bans.delete(address);
      },
      listeners: () => this.addresses ?? { explicit: [], implicit: [] },
      sessionCount: () => this.slots.reduce((n, slot) => n + snapshot(slot).sessions, 0),
      userSessions: (user) => this.slots.reduce((n, slot) => n + (snapshot(slot).users.find(([u]) => u === user)?.[1] ?? 0), 0),
    };
  }

  private rememberBan(address: string, until: number): void {
    if ((this.bans.get(address) ?? 0) >= until) return;
    this.bans.delete(address);
    this.bans.set(address, until);
    const now = Date.now();
    for (const [a, u] of this.bans) {
      if (this.bans.size <= MAX_BANS && u > now) break;
      this.bans.delete(a);
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    const wasReady = slot.ready || slot.silenced;
    const retired = slot.retiring;
    Object.assign(slot, { worker: undefined, ready: false, retiring: false });
    this.scaler?.changed(Date.now(), slot.index);
    if (this.snapshots.delete(slot.index)) this.broadcast({ ftpsd: 1, type: 'sessions', from: slot.index, snapshot: NO_SESSIONS });
    if (this.stopping) return this.exitWhenAllGone(code === 0 || this.failed ? 0 : 1);
    if (retired) {
      this.log.info({ worker: slot.index + 1, workerPid: worker.process.pid, code, signal }, 'worker retired');
      return;
    }
    const why = slot.fatal?.message ?? `worker ${slot.index + 1} exited (${signal ?? `code ${code}`}) before it was ready`;
    if (!this.announced) return this.fail(new StartError(why, slot.fatal?.exitCode ?? 1));
    const ranFor = Date.now() - slot.startedAt;
    slot.crashes = ranFor >= STABLE_MS ? 0 : slot.crashes + 1;
    if (!wasReady && ++this.startFailures >= MAX_START_FAILURES) {
      this.log.error({ worker: slot.index + 1, error: why }, 'workers keep failing at start; stopping');
      process.stderr.write(`error: workers keep failing at start: ${why}\n`);
      return this.stop('SIGTERM', 1);
    }
    const delay = Math.min(RESTART_MIN_MS * 2 ** Math.max(slot.crashes - 1, 0), RESTART_MAX_MS);
    this.log.error({ worker: slot.index + 1, workerPid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; starting a new one');
    slot.restartPending = true;
    setTimeout(() => {
      slot.restartPending = false;
      if (!this.stopping) this.fork(slot);
    }, delay);
  }

  /** A failure during the first start: stop the others, then reject with the worker's error. */
  private fail(err: StartError): void {
    this.stopping = true;
    clearInterval(this.heartbeat);
    clearInterval(this.scaling);
    void this.acme?.close();
    void this.admin?.close();
    this.failed = true;
    this.exitCode = err.exitCode;
    for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
    // Nothing may keep the process alive once the error is out.
    void this.endpoint?.close();
    this.started?.reject(err);
  }

  private handleSignals(): void {
    // Only to workers that listen (so have their handlers): one still starting reads the config anew.
    const forward = (signal: NodeJS.Signals) => () => {
      this.log.info({ signal, workers: this.slots.length }, 'forwarding the signal to the workers');
      if (signal === 'SIGHUP') {
        this.configForWorkers = undefined;
        void this.admin?.reloadSettings('SIGHUP');
      }
      for (const slot of this.slots) if (slot.ready) slot.worker?.process.kill(signal);
    };
    process.on('SIGHUP', forward('SIGHUP'));
    // Workers handle SIGUSR1 (reopen the transfer log) only with a transfer log; else it would start
    // Node's inspector in them.
    process.on('SIGUSR1', this.config.xferlog !== undefined ? forward('SIGUSR1') : () => this.log.info({ signal: 'SIGUSR1' }, 'no transfer log to reopen'));
    process.on('SIGINT', () => this.stop('SIGINT'));
    process.on('SIGTERM', () => this.stop('SIGTERM'));
  }

  /** Graceful stop of every worker (they get the shutdown grace period); a second call kills them. */
  private stop(signal: NodeJS.Signals, exitCode = 0): void {
    if (this.stopping) {
      this.log.warn({ signal }, 'second signal: stopping the workers at once');
      for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
      process.exit(1);
    }
    this.stopping = true;
    clearInterval(this.heartbeat);
    clearInterval(this.scaling);
    this.exitCode = exitCode;
    if (this.metrics) this.metrics.shuttingDown = true;
    void this.admin?.close();
    this.log.info({ signal, graceMs: DEFAULTS.shutdownGraceMs }, 'shutting down');
    for (const slot of this.slots) if (!this.send(slot.worker, { ftpsd: 1, type: 'shutdown' })) slot.worker?.process.kill('SIGTERM');
    // Workers drain transfers, then hooks; past that they are killed.
    setTimeout(() => {
      for (const slot of this.slots) slot.worker?.process.kill('SIGKILL');
    }, DEFAULTS.shutdownGraceMs + drainMs(this.config) + 5000).unref();
    this.exitWhenAllGone(0);
  }

  private exitWhenAllGone(code: number): void {
    if (code !== 0) this.exitCode = 1;
    if (this.slots.some((s) => s.worker !== undefined)) return;
    void (this.endpoint?.close() ?? Promise.resolve()).finally(() => process.exit(this.exitCode));
  }
}

/** A message of node:cluster's own protocol (internal; read defensively). */
interface ClusterInternal {
  cmd?: unknown;
  act?: unknown;
  seq?: unknown;
  ack?: unknown;
}

/**
 * Keeps track of the connections the primary hands to `worker` (node:cluster's round robin sends each
 * accepted socket's handle with a `newconn` message) until the worker answers for it, and returns what
 * closes those still unanswered. Node keeps its copy of such a handle until that answer, so one handed
 * to a worker that dies first (SIGKILL, or killed by the heartbeat while stopped) is never closed, and
 * its client waits for a greeting for ever. Closed, the client sees the connection end and can connect
 * again (another worker serves it). Round robin hands a worker its next connection only after the
 * answer for the previous one, so this is at most one connection per worker.
 */
function trackHandedConnections(worker: Worker): () => void {
  const proc = worker.process;
  const handed = new Map<number, { close?: () => void }>();
  const send = proc.send;
  // Every argument passes through unchanged; only newconn handles are noted.
  proc.send = function (this: typeof proc, ...args: unknown[]): boolean {
    const [message, handle] = args as [ClusterInternal | undefined, { close?: () => void } | undefined];
    if (handle && message?.cmd === 'NODE_CLUSTER' && message.act === 'newconn' && typeof message.seq === 'number') handed.set(message.seq, handle);
    return (send as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof proc.send;
  proc.on('internalMessage', (m: ClusterInternal | undefined) => {
    if (m?.cmd === 'NODE_CLUSTER' && typeof m.ack === 'number') handed.delete(m.ack);
  });
  return () => {
    for (const handle of handed.values()) {
      try {
        handle.close?.();
      } catch {
        // already closed
      }
    }
    handed.clear();
  };
}

/** A worker's start-up error, with the exit code it asked for (2: config). */
export class StartError extends Error {
  override name = 'StartError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
