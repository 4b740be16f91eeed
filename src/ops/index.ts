/**
 * The operations layer in one call, for `ftpsd serve` and for embedders: a transfer log (xferlog), a
 * Prometheus endpoint, and hooks and webhooks, all fed by a server's events.
 *
 * ```ts
 * const server = new FtpServer({ ... });
 * await server.listen();
 * const ops = await startOperations(server, { xferlog: '/var/log/ftpsd/xferlog', metricsListen: { host: '127.0.0.1', port: 9102 } });
 * process.on('SIGHUP', () => ops.reopenLogs());
 * // at shutdown:
 * await server.close(10_000);
 * await ops.close();
 * ```
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import type { ListenAddress } from '../server.js';
import { Automation } from './automation.js';
import type { DeliveryOptions } from './delivery-queue.js';
import type { HookSpec } from './hooks.js';
import type { MetricsEndpoint } from './metrics-endpoint.js';
import type { FtpMetrics, MetricsSource } from './metrics.js';
import type { WebhookSpec } from './webhooks.js';
import { XferLog } from './xferlog.js';

export { Automation, type AutomationOptions } from './automation.js';
export { DeliveryQueue, DEFAULT_DELIVERY, PermanentFailure, type Delivery, type DeliveryOptions } from './delivery-queue.js';
export { HOOK_EVENTS, parseHook, splitCommand, type AutomationEvent, type HookEvent, type HookSpec } from './hooks.js';
export { LOG_FORMATS, PrettyDestination, formatPrettyLine, logDestination, type LogFormat } from './log-format.js';
// The metrics (prom-client) are loaded only when a metrics endpoint is asked for: import FtpMetrics and
// MetricsEndpoint from ./metrics.js and ./metrics-endpoint.js.
export type { MetricsOptions, MetricsSource } from './metrics.js';
export { parseWebhook, type WebhookSpec } from './webhooks.js';
export { XferLog, formatXferlogLine, xferlogName, xferlogTime } from './xferlog.js';

export interface OperationsOptions {
  logger?: Logger;
  /** Append a transfer log in the xferlog format to this file. */
  xferlog?: string;
  /** Who may own the xferlog and its directory (ops/xferlog.ts); default: root and the current user. */
  xferlogOwners?: ReadonlySet<number>;
  /** Serve /metrics and /healthz here. */
  metricsListen?: ListenAddress;
  /** Add Node's process metrics to /metrics. Default: true. */
  processMetrics?: boolean;
  hooks?: readonly HookSpec[];
  webhooks?: readonly (WebhookSpec | string)[];
  delivery?: Partial<DeliveryOptions>;
  /** The environment hooks inherit (FTPSD_* removed); default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export class Operations {
  private constructor(
    readonly xferlog: XferLog | undefined,
    readonly metrics: FtpMetrics | undefined,
    readonly endpoint: MetricsEndpoint | undefined,
    readonly automation: Automation | undefined,
    /** Where /metrics is served (the real port when 0 was asked). */
    readonly metricsAddress: AddressInfo | undefined,
  ) {}

  static async start(server: MetricsSource, options: OperationsOptions = {}): Promise<Operations> {
    const logger = options.logger ?? silentLogger;
    const xferlog = options.xferlog === undefined ? undefined : new XferLog(options.xferlog, { logger, ...(options.xferlogOwners ? { owners: options.xferlogOwners } : {}) });
    let automation: Automation | undefined;
    let metrics: FtpMetrics | undefined;
    let endpoint: MetricsEndpoint | undefined;
    try {
      automation = new Automation({
        ...(options.hooks ? { hooks: options.hooks } : {}),
        ...(options.webhooks ? { webhooks: options.webhooks } : {}),
        ...(options.delivery ? { delivery: options.delivery } : {}),
        ...(options.env ? { env: options.env } : {}),
        logger,
      });
      if (!automation.enabled) automation = undefined;
      let address: AddressInfo | undefined;
      if (options.metricsListen) {
        const [{ FtpMetrics }, { MetricsEndpoint }] = await Promise.all([import('./metrics.js'), import('./metrics-endpoint.js')]);
        metrics = new FtpMetrics(server, {
          processMetrics: options.processMetrics ?? true,
          ...(automation ? { deliveries: automation.queue } : {}),
        });
        endpoint = new MetricsEndpoint(metrics, logger);
        address = await endpoint.listen(options.metricsListen);
      }
      xferlog?.attach(server.events);
      automation?.attach(server.events);
      return new Operations(xferlog, metrics, endpoint, automation, address);
    } catch (err) {
      metrics?.detach();
      await xferlog?.close();
      throw err;
    }
  }

  /** Reopens the transfer log (log rotation). */
  reopenLogs(): void {
    this.xferlog?.reopen();
  }

  /**
   * After the FTP server closed: lets queued hooks and webhooks finish until `drainMs`, then closes the
   * transfer log and the metrics endpoint.
   */
  async close(drainMs = 10_000): Promise<void> {
    if (this.metrics) this.metrics.shuttingDown = true;
    await this.automation?.close(drainMs);
    await this.xferlog?.close();
    await this.endpoint?.close();
    this.metrics?.detach();
  }
}

export const startOperations = (server: MetricsSource, options?: OperationsOptions): Promise<Operations> => Operations.start(server, options);
