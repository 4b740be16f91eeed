/**
 * `ftpsd serve`'s operations: the log destination (pretty on a terminal), the transfer log, the
 * metrics endpoint, hooks and webhooks (src/ops/), and the signals that reopen the transfer log.
 */
import { errnoText } from '../config/errno-text.js';
import { trustedOwners } from '../config/file-trust.js';
import { formatAddress } from '../config/listen-address.js';
import type { ResolvedConfig } from '../config/load.js';
import { DEFAULT_DRAIN_MS } from '../config/defaults.js';
import type { Logger } from '../logger.js';
import { isPretty, logDestination } from '../ops/log-format.js';
import { Operations } from '../ops/index.js';
import type { MetricsSource } from '../ops/metrics.js';

type OpsConfig = Pick<ResolvedConfig, 'logFormat' | 'metricsListen' | 'xferlog' | 'hooks' | 'webhooks' | 'hookDelivery'>;

/** Where pino writes: `target` itself for JSON lines, a reformatting stream for pretty lines. */
export function serveLogDestination(config: Pick<ResolvedConfig, 'logFormat'>, target: { write(s: string): unknown }, env: NodeJS.ProcessEnv): NodeJS.WritableStream {
  return logDestination(config.logFormat, target, {
    isTTY: process.stdout.isTTY === true,
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== '',
  }) as NodeJS.WritableStream;
}

/** Whether serve's logs on stdout are JSON lines (then the banner is one too). */
export function logsAreJson(config: Pick<ResolvedConfig, 'logFormat'>): boolean {
  return !isPretty(config.logFormat, process.stdout.isTTY === true);
}

/**
 * Starts what the config asks for; errors name what failed (`cannot open xferlog ...`). `runAsUid`: the
 * user ftpsd will switch to, who may own the xferlog and its directory too.
 */
export async function startServeOperations(server: MetricsSource, config: OpsConfig, logger: Logger, env: NodeJS.ProcessEnv, runAsUid?: number): Promise<Operations> {
  const { drainMs: _drain, ...delivery } = config.hookDelivery;
  try {
    return await Operations.start(server, {
      logger,
      ...(config.xferlog !== undefined ? { xferlog: config.xferlog, xferlogOwners: trustedOwners(runAsUid) } : {}),
      ...(config.metricsListen !== undefined ? { metricsListen: config.metricsListen } : {}),
      hooks: config.hooks,
      webhooks: config.webhooks,
      delivery,
      env,
    });
  } catch (err) {
    throw opsError(err, config);
  }
}

/** SIGHUP and SIGUSR1 reopen the transfer log (after logrotate moved it). */
export function reopenOnSignals(ops: Operations): void {
  if (!ops.xferlog) return;
  process.on('SIGHUP', () => ops.reopenLogs());
  process.on('SIGUSR1', () => ops.reopenLogs());
}

export function drainMs(config: Pick<ResolvedConfig, 'hookDelivery'>): number {
  return config.hookDelivery.drainMs ?? DEFAULT_DRAIN_MS;
}

/** An operations start-up error as one line naming what failed. */
export function opsError(err: unknown, config: Pick<OpsConfig, 'metricsListen' | 'xferlog'>): Error {
  const e = err as NodeJS.ErrnoException;
  const why = errnoText(err, { ENOENT: 'no such directory' });
  if (e.syscall === 'listen' && config.metricsListen) {
    return new Error(`cannot listen for metrics on ${formatAddress(config.metricsListen.host, config.metricsListen.port)}: ${why}`, { cause: err });
  }
  if (e.syscall === 'open' && config.xferlog) return new Error(`cannot open xferlog ${config.xferlog}: ${why}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}
