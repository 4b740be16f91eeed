/**
 * A worker of cluster mode: the normal `ftpsd serve` (src/runtime/serve.ts) with its share of the config
 * (its slice of the passive ports, no metrics endpoint of its own), and the state that must be
 * process-wide kept in step through the primary:
 *
 * - failed logins: each is relayed to every other worker, whose ban table counts it too, so an address
 *   is banned everywhere after `failures` failures, wherever they happened; bans are relayed as well
 *   (a replaced worker gets those in force);
 * - session counts (total, by address, by user): each worker sends a snapshot of its sessions when
 *   they change, and the caps count the others' latest snapshots (FtpServer.peers);
 * - metrics: the primary asks each worker for its registry and serves the sum;
 * - the heartbeat: the primary pings each listening worker and replaces one that stops answering;
 * - the admin console (in the primary): it asks each worker for its sessions, to end one, to reload,
 *   and lifts bans everywhere; a worker tells it when its certificate changes. Session ids start with
 *   the worker's number (`2.Kx9a_Q3b`), so they are unique across workers.
 *
 * - workers on demand (`workers: auto`): the worker reports its event-loop utilization and sessions
 *   about once a second (worker-scaler.ts); retired, the primary disconnects it (node:cluster closes
 *   its listeners: no new connection) and it stops once its last session has ended.
 *
 * All of it is eventually consistent: a connection accepted within the IPC round trip (well under a
 * millisecond on an idle host) of another worker's change does not see it yet.
 */
import cluster from 'node:cluster';
import { performance } from 'node:perf_hooks';
import { oneLine, exitCodeOf } from '../runtime/exit.js';
import { serve, type ServeContext } from '../runtime/serve.js';
import type { CliFlags, ResolvedConfig } from '../config/load.js';
import type { FtpMetrics, MetricsSource } from '../ops/metrics.js';
import type { Operations } from '../ops/index.js';
import type { FtpServer } from '../server.js';
import { setSessionIdPrefix } from '../session-id.js';
import type { ConfigReloadResult } from '../runtime/config-reload.js';
import { LocalSessions } from '../runtime/session-directory.js';
import { checkedSnapshot, ourMessage, type AdminOp, type PrimaryMessage, type WorkerMessage } from './messages.js';
import { PeerSessionCounts, snapshotOf } from './peer-sessions.js';
import { workerShare } from './port-slices.js';

/** How long a worker waits for the primary's init message. */
const INIT_TIMEOUT_MS = 30_000;
/** A snapshot goes out this long after the first change (changes in between are folded in). */
const SNAPSHOT_DELAY_MS = 10;
/** And at least this often when something changed unseen (a REIN logs out without an event). */
const SNAPSHOT_EVERY_MS = 1000;
/** Workers on demand: a load report this often. */
const LOAD_EVERY_MS = 1000;

type Init = Extract<PrimaryMessage, { type: 'init' }>;

/** Sends to the primary; a closed channel (the primary is gone) is not an error here. */
export function toPrimary(message: WorkerMessage): void {
  if (!process.connected || !process.send) return;
  process.send(message, undefined, {}, () => {});
}

/** Asks the primary for this worker's place (index, count, the shared generated password). */
function handshake(): Promise<Init> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('cluster worker: no init message from the primary'));
    }, INIT_TIMEOUT_MS);
    const onMessage = (raw: unknown) => {
      const m = ourMessage<PrimaryMessage>(raw);
      if (m?.type === 'shutdown') process.exit(0); // the cluster stops before this worker started
      if (m?.type !== 'init') return;
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve(m);
    };
    process.on('message', onMessage);
    toPrimary({ ftpsd: 1, type: 'hello' });
  });
}

/**
 * Runs `serve` as worker of the primary; a start-up failure goes to the primary (which reports it). The
 * flags are the primary's (init), else those given (a worker started through the command line).
 */
export async function runWorker(ctx: Pick<ServeContext, 'version'>, given: CliFlags = {}): Promise<void> {
  let init: Init;
  try {
    init = await handshake();
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const flags = typeof init.flags === 'object' && init.flags !== null ? (init.flags as CliFlags) : given;
  setSessionIdPrefix(`${init.index + 1}.`);
  const link = new WorkerLink(init);
  try {
    await serve(flags, { version: ctx.version, worker: link.hooks() });
  } catch (err) {
    const exitCode = exitCodeOf(err);
    toPrimary({ ftpsd: 1, type: 'fatal', message: oneLine(err instanceof Error ? err.message : String(err)), exitCode });
    // Let the message go out before exiting.
    setTimeout(() => process.exit(exitCode), 50);
  }
}

/** The worker's side of the IPC channel, once its server runs. */
class WorkerLink {
  private server: FtpServer | undefined;
  /** The worker's registry, when the primary serves /metrics (prom-client is loaded only then). */
  private metrics: Promise<FtpMetrics> | undefined;
  private stop: (() => void) | undefined;
  private readonly peers = new PeerSessionCounts();
  private pending: NodeJS.Timeout | undefined;
  private lastSent = '';
  private reloadCertificate: (() => void) | undefined;
  private reloadConfig: ((reason: string) => Promise<ConfigReloadResult>) | undefined;
  private sessions: LocalSessions | undefined;

  constructor(private readonly init: Init) {
    process.on('message', (raw: unknown) => this.onMessage(raw));
  }

  hooks(): NonNullable<ServeContext['worker']> {
    const { index, count } = this.init;
    return {
      logFields: { worker: index + 1, pid: process.pid },
      generatedPassword: this.init.generatedPassword,
      // The primary's checked config (its shape is the primary's own ResolvedConfig, checked by plainData there).
      config: this.init.config as ResolvedConfig | undefined,
      adjust: (config) => workerShare(config, index, count),
      ready: (server, ops, addresses, source) => this.ready(server, ops, addresses, source),
      onStop: (stop) => (this.stop = stop),
      onCertificate: (reload) => (this.reloadCertificate = reload),
      onReload: (reload) => (this.reloadConfig = reload),
      tlsChanged: (m) => {
        if (this.init.admin) toPrimary({ ftpsd: 1, type: 'tls', cert: m.cert, key: m.key, source: m.source });
      },
    };
  }

  private ready(server: FtpServer, ops: Operations, addresses: Awaited<ReturnType<FtpServer['listen']>>, source: MetricsSource): void {
    this.server = server;
    this.sessions = new LocalSessions(server);
    server.peers = this.peers;
    if (this.init.metrics) {
      this.metrics = import('../ops/metrics.js').then(({ FtpMetrics }) => new FtpMetrics(source, { processMetrics: true, ...(ops.automation ? { deliveries: ops.automation.queue } : {}) }));
    }
    const { events } = server;
    const changed = () => this.schedule();
    events.on('connect', changed);
    events.on('disconnect', changed);
    events.on('login', changed);
    events.on('login-attempt', (e) => {
      if (e.result !== 'failed') return;
      toPrimary({ ftpsd: 1, type: 'failure', address: e.remoteAddress });
      const until = e.banStarted ? server.throttle?.bannedUntil(e.remoteAddress) : undefined;
      if (until !== undefined) toPrimary({ ftpsd: 1, type: 'ban', address: e.remoteAddress, until });
    });
    setInterval(() => this.sendSnapshot(), SNAPSHOT_EVERY_MS).unref();
    if (this.init.load) this.reportLoad(server);
    this.stopWhenRetired(server);
    const plain = (a: { address: string; family: string; port: number }) => ({ address: a.address, family: a.family, port: a.port });
    toPrimary({ ftpsd: 1, type: 'listening', addresses: { explicit: addresses.explicit.map(plain), implicit: addresses.implicit.map(plain) } });
  }

  /** Workers on demand: utilization since the last report, sessions, connections accepted meanwhile. */
  private reportLoad(server: FtpServer): void {
    let accepted = 0;
    server.events.on('connect', () => accepted++);
    let last = performance.eventLoopUtilization();
    setInterval(() => {
      const now = performance.eventLoopUtilization();
      const elu = performance.eventLoopUtilization(now, last).utilization;
      last = now;
      toPrimary({ ftpsd: 1, type: 'load', elu, sessions: server.sessions.size, accepted });
      accepted = 0;
    }, LOAD_EVERY_MS).unref();
  }

  /**
   * Retired by the primary (worker.disconnect()): node:cluster closes this worker's listeners at once (no
   * new connection; one already handed to it is served) and the channel once the listeners' last
   * connection has ended; then the worker stops. A channel that closes otherwise (the primary died)
   * makes node:cluster exit the worker at once.
   */
  private stopWhenRetired(server: FtpServer): void {
    process.once('disconnect', () => {
      if (!cluster.worker?.exitedAfterDisconnect) return;
      server.log.info({ sessions: server.sessions.size }, 'retired by the primary; stopping once the sessions end');
      const check = () => {
        if (server.sessions.size > 0) return;
        server.events.off('disconnect', later);
        this.stop?.();
      };
      // A connection leaves the map a little after its disconnect event.
      const later = () => setImmediate(check);
      server.events.on('disconnect', later);
      check();
    });
  }

  private schedule(): void {
    this.pending ??= setTimeout(() => {
      this.pending = undefined;
      this.sendSnapshot();
    }, SNAPSHOT_DELAY_MS);
  }

  private sendSnapshot(): void {
    if (!this.server) return;
    const snapshot = snapshotOf(this.server.sessions.values());
    const text = JSON.stringify(snapshot);
    if (text === this.lastSent) return;
    this.lastSent = text;
    toPrimary({ ftpsd: 1, type: 'sessions', snapshot });
  }

  private onMessage(raw: unknown): void {
    const m = ourMessage<PrimaryMessage>(raw);
    if (!m) return;
    const server = this.server;
    switch (m.type) {
      case 'shutdown':
        if (this.stop) this.stop();
        else process.exit(0); // not serving yet: nothing to drain
        return;
      case 'sessions':
        if (typeof m.from === 'number' && m.from !== this.init.index) this.peers.set(m.from, checkedSnapshot(m.snapshot));
        return;
      case 'failure': {
        if (typeof m.address !== 'string' || !server?.throttle) return;
        const until = server.throttle.recordFailure(m.address);
        if (until === undefined) return;
        server.log.warn({ peer: m.address, network: server.throttle.networkOf(m.address), until: new Date(until).toISOString() }, 'address banned after repeated failed logins (counted across workers)');
        toPrimary({ ftpsd: 1, type: 'ban', address: m.address, until });
        return;
      }
      case 'ban':
        if (typeof m.address === 'string' && typeof m.until === 'number') server?.throttle?.impose(m.address, m.until);
        return;
      case 'unban':
        if (typeof m.address === 'string') server?.throttle?.unban(m.address);
        return;
      case 'admin':
        if (typeof m.id === 'number' && typeof m.op === 'object' && m.op !== null) void this.answerAdmin(m.id, m.op);
        return;
      case 'metrics-request':
        void this.replyMetrics(m.id);
        return;
      case 'certificate':
        this.reloadCertificate?.();
        return;
      case 'ping':
        // The heartbeat: answered from the event loop, so a stopped or blocked worker stays silent.
        if (typeof m.seq === 'number') toPrimary({ ftpsd: 1, type: 'pong', seq: m.seq });
        return;
      default:
        return;
    }
  }

  /** An admin console request; a failure answers `{error}` (the primary reports it). */
  private async answerAdmin(id: number, op: AdminOp): Promise<void> {
    let result: unknown;
    try {
      if (op.kind === 'sessions') result = (this.sessions?.now() ?? []).map((s) => ({ ...s, worker: this.init.index + 1 }));
      else if (op.kind === 'end' && typeof op.session === 'string') result = this.sessions ? await this.sessions.end(op.session, String(op.reason)) : 'not-found';
      else if (op.kind === 'reload' && this.reloadConfig) result = await this.reloadConfig(String(op.reason));
      else result = { error: 'unknown request' };
    } catch (err) {
      this.server?.log.error({ err, op: op.kind }, 'admin request failed');
      result = { error: 'failed' };
    }
    toPrimary({ ftpsd: 1, type: 'admin-reply', id, result });
  }

  private async replyMetrics(id: number): Promise<void> {
    let metrics: unknown = [];
    try {
      metrics = this.metrics ? await (await this.metrics).registry.getMetricsAsJSON() : [];
    } catch (err) {
      this.server?.log.error({ err }, 'collecting metrics failed');
    }
    toPrimary({ ftpsd: 1, type: 'metrics', id, metrics });
  }
}
