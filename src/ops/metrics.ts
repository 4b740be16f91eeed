/**
 * Prometheus metrics for one server, in a registry of its own (two servers in one process never share
 * or clash), fed by the server's events. `MetricsEndpoint` (metrics-endpoint.ts) serves them over HTTP.
 *
 * Every metric is named in METRIC_NAMES below (and in docs/operations.md, Metrics).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CommandEvent, LoginAttemptEvent, ServerEvents, TlsHandshakeEvent, TransferEndEvent } from '../events.js';
import type { DeliveryQueue } from './delivery-queue.js';
import { servedCertificate, type ServedCertificate } from './served-certificate.js';

/** What the metrics need from a server. */
export interface MetricsSource {
  readonly events: ServerEvents;
  /** Live sessions (read at each scrape). */
  readonly sessions: { readonly size: number };
  /** The certificate new connections get (read at each scrape), when the server has TLS. */
  readonly servedCertificate?: () => { pem: string; acme: boolean } | undefined;
}

export interface MetricsOptions {
  /** Also Node's process metrics (`process_*`, `nodejs_*`: CPU, memory, event loop lag, GC). Default: false. */
  processMetrics?: boolean;
  /** Count the deliveries of this hook/webhook queue too. */
  deliveries?: DeliveryQueue;
}

export const METRIC_NAMES = [
  'ftpsd_sessions',
  'ftpsd_sessions_total',
  'ftpsd_logins_total',
  'ftpsd_login_bans_total',
  'ftpsd_commands_total',
  'ftpsd_command_errors_total',
  'ftpsd_transfers_total',
  'ftpsd_transfer_bytes_total',
  'ftpsd_transfer_duration_seconds',
  'ftpsd_tls_handshakes_total',
  'ftpsd_tls_reuse_refused_total',
  'ftpsd_event_deliveries_total',
  'ftpsd_event_delivery_retries_total',
  'ftpsd_event_deliveries_dropped_total',
  'ftpsd_event_queue_length',
  'ftpsd_up',
  'ftpsd_certificate_expiry_seconds',
] as const;

type MetricName = (typeof METRIC_NAMES)[number];

/** Declares counters and read-at-scrape gauges in one registry, by a name from METRIC_NAMES. */
function declare(registry: Registry) {
  const registers = [registry];
  return {
    counter: <L extends string = never>(name: MetricName, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers }),
    gauge: (name: MetricName, help: string, read: () => number, aggregator?: 'min') =>
      new Gauge({
        name,
        help,
        registers,
        ...(aggregator ? { aggregator } : {}),
        collect() {
          this.set(read());
        },
      }),
  };
}

const DIRECTIONS = ['upload', 'download'] as const;
const PROTECTIONS = ['clear', 'private'] as const;

export class FtpMetrics {
  readonly registry = new Registry();
  /** Set once the server began to shut down (`/healthz` answers 503). */
  shuttingDown = false;
  /** Why the server is degraded (`/healthz` says so, still 200: it serves), or undefined when it is not. */
  degraded: (() => string | undefined) | undefined;
  private readonly detachers: (() => void)[] = [];

  constructor(source: MetricsSource, options: MetricsOptions = {}) {
    const { counter, gauge } = declare(this.registry);
    // Cluster mode sums the workers' metrics: up only while every worker is ('min').
    gauge('ftpsd_up', '1 while the server accepts connections, 0 once it is shutting down.', () => (this.shuttingDown ? 0 : 1), 'min');
    gauge('ftpsd_sessions', 'Control connections open now.', () => source.sessions.size);
    const sessionsTotal = counter('ftpsd_sessions_total', 'Control connections accepted.');
    const logins = counter(
      'ftpsd_logins_total',
      'Password checks (PASS) by result: ok, failed (wrong user or password), banned (refused: the address is banned), too_many_sessions, unavailable (LDAP or the auth hook could not answer: 421).',
      ['result'],
    );
    const certificate = source.servedCertificate;
    if (certificate) {
      let cached: { pem: string; served: ServedCertificate | undefined } | undefined;
      new Gauge({
        name: 'ftpsd_certificate_expiry_seconds' satisfies MetricName,
        help: 'Expiry (notAfter, Unix seconds) of the certificate new connections get, by source (file, generated, acme), names and SHA-256 fingerprint.',
        labelNames: ['source', 'names', 'fingerprint'],
        registers: [this.registry],
        aggregator: 'min',
        collect() {
          const now = certificate();
          this.reset();
          if (!now) return;
          if (cached?.pem !== now.pem) cached = { pem: now.pem, served: servedCertificate(now.pem, now.acme) };
          const s = cached.served;
          if (s) this.set({ source: s.source, names: s.names.join(','), fingerprint: s.fingerprint256 }, Math.floor(s.validTo.getTime() / 1000));
        },
      });
    }
    const bans = counter('ftpsd_login_bans_total', 'Addresses banned after repeated failed logins.');
    const commands = counter('ftpsd_commands_total', 'Commands by final reply code (unknown and malformed lines included).', ['code']);
    const commandErrors = counter(
      'ftpsd_command_errors_total',
      'Commands answered with a 4xx or 5xx reply, by command (UNKNOWN: not a known command) and code.',
      ['command', 'code'],
    );
    const transfers = counter(
      'ftpsd_transfers_total',
      'File transfers (RETR, STOR, APPE, STOU) by direction, protection (clear: PROT C, private: PROT P) and result (ok, failed).',
      ['direction', 'protection', 'result'],
    );
    const bytes = counter(
      'ftpsd_transfer_bytes_total',
      'Bytes of file transfers (failed ones included) by direction and protection.',
      ['direction', 'protection'],
    );
    const durations = new Histogram({
      name: 'ftpsd_transfer_duration_seconds' satisfies MetricName,
      help: 'Duration of file transfers, from the command to the final reply, by direction and result.',
      labelNames: ['direction', 'result'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
      registers: [this.registry],
    });
    const handshakes = counter(
      'ftpsd_tls_handshakes_total',
      'TLS handshakes by channel (control, data) and result (ok, failed).',
      ['channel', 'result'],
    );
    const reuseRefused = counter(
      'ftpsd_tls_reuse_refused_total',
      'Protected data connections refused (425) because they did not resume their control connection\'s TLS session.',
    );

    // Known series start at 0, so rate() and alerts see them before the first event.
    for (const result of ['ok', 'failed', 'banned', 'too_many_sessions', 'unavailable']) logins.inc({ result }, 0);
    for (const direction of DIRECTIONS) {
      for (const protection of PROTECTIONS) {
        bytes.inc({ direction, protection }, 0);
        for (const result of ['ok', 'failed']) transfers.inc({ direction, protection, result }, 0);
      }
    }
    for (const channel of ['control', 'data']) for (const result of ['ok', 'failed']) handshakes.inc({ channel, result }, 0);

    const on = <K extends 'connect' | 'login-attempt' | 'command' | 'transfer-end' | 'tls-handshake' | 'reuse-refused' | 'shutdown'>(
      event: K,
      listener: (...args: never[]) => void,
    ) => {
      source.events.on(event, listener as never);
      this.detachers.push(() => source.events.off(event, listener as never));
    };
    on('connect', () => sessionsTotal.inc());
    on('login-attempt', (e: LoginAttemptEvent) => {
      logins.inc({ result: e.result.replace(/-/g, '_') });
      if (e.banStarted) bans.inc();
    });
    on('command', (e: CommandEvent) => {
      const code = e.code === undefined ? 'none' : String(e.code);
      commands.inc({ code });
      if (e.code !== undefined && e.code >= 400) commandErrors.inc({ command: e.command ?? 'UNKNOWN', code });
    });
    on('transfer-end', (e: TransferEndEvent) => {
      const result = e.ok ? 'ok' : 'failed';
      transfers.inc({ direction: e.direction, protection: e.protection, result });
      bytes.inc({ direction: e.direction, protection: e.protection }, e.bytes);
      durations.observe({ direction: e.direction, result }, e.durationMs / 1000);
    });
    on('tls-handshake', (e: TlsHandshakeEvent) => handshakes.inc({ channel: e.channel, result: e.ok ? 'ok' : 'failed' }));
    on('reuse-refused', () => reuseRefused.inc());
    on('shutdown', () => (this.shuttingDown = true));

    if (options.deliveries) this.countDeliveries(options.deliveries);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  private countDeliveries(queue: DeliveryQueue): void {
    const { counter, gauge } = declare(this.registry);
    const deliveries = counter(
      'ftpsd_event_deliveries_total',
      'Hook commands and webhook requests by kind (hook, webhook) and result (ok; failed: retries spent or not retryable; dropped: the queue was full).',
      ['kind', 'result'],
    );
    const retries = counter('ftpsd_event_delivery_retries_total', 'Failed hook and webhook attempts that will be retried, by kind.', ['kind']);
    const drops = counter(
      'ftpsd_event_deliveries_dropped_total',
      'Hook and webhook deliveries dropped, by kind, event and reason (queue-full: the target\'s queue was full; pushed-out: a user with fewer events waiting took the place; shutdown). Each is also logged with its user and path.',
      ['kind', 'event', 'reason'],
    );
    gauge('ftpsd_event_queue_length', 'Hook and webhook deliveries waiting (queued or waiting for a retry).', () => queue.pending);
    for (const kind of ['hook', 'webhook']) {
      retries.inc({ kind }, 0);
      for (const result of ['ok', 'failed', 'dropped']) deliveries.inc({ kind, result }, 0);
    }
    const ok = (d: { kind: string }) => deliveries.inc({ kind: d.kind, result: 'ok' });
    const failed = (d: { kind: string }) => deliveries.inc({ kind: d.kind, result: 'failed' });
    const dropped = (d: { kind: string; event: string }, r: { reason: string }) => {
      deliveries.inc({ kind: d.kind, result: 'dropped' });
      drops.inc({ kind: d.kind, event: d.event, reason: r.reason });
    };
    const retry = (d: { kind: string }) => retries.inc({ kind: d.kind });
    queue.on('delivered', ok);
    queue.on('failed', failed);
    queue.on('dropped', dropped);
    queue.on('retry', retry);
    this.detachers.push(() => {
      queue.off('delivered', ok);
      queue.off('failed', failed);
      queue.off('dropped', dropped);
      queue.off('retry', retry);
    });
  }

  /** The exposition text (Prometheus text format). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the server's events. */
  detach(): void {
    for (const d of this.detachers.splice(0)) d();
  }
}
