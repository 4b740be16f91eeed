/**
 * `ftpsd serve` (the default command): load the config, start the listeners, print the banner, and
 * stop cleanly on SIGINT/SIGTERM (running transfers get a grace period; a second signal stops at once).
 * The certificate and key are reloaded on SIGHUP and when their files change (src/tls/reload.ts).
 */
import { formatAddress } from '../config/listen-address.js';
import { DEFAULTS } from '../config/defaults.js';
import { loadConfig, type CliFlags } from '../config/load.js';
import { toServerOptions } from '../config/server-options.js';
import { pino } from 'pino';
import { createLogger } from '../logger.js';
import { FtpServer } from '../server.js';
import { CertificateReloader } from '../tls/reload.js';
import { formatBanner } from './banner.js';
import { withIpv4Fallback } from './ipv6.js';

export interface ServeContext {
  version: string;
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream;
}

/** Starts the server; resolves once it listens (the process then lives until a signal). */
export async function serve(flags: CliFlags, ctx: ServeContext): Promise<FtpServer> {
  const loaded = await loadConfig(flags, ctx.env ? { env: ctx.env } : {});
  const config = {
    ...loaded,
    listen: await withIpv4Fallback(loaded.listen),
    implicitListen: await withIpv4Fallback(loaded.implicitListen),
  };
  // Synchronous, so log lines and the banner (both on stdout) never interleave mid-line.
  const stdout = pino.destination({ dest: 1, sync: true }) as unknown as NodeJS.WritableStream;
  const logger = createLogger(config.logLevel, stdout);
  const { options, certificate } = await toServerOptions(config, logger);
  const server = new FtpServer(options);
  let addresses: Awaited<ReturnType<FtpServer['listen']>>;
  try {
    addresses = await server.listen();
  } catch (err) {
    await server.close();
    throw listenError(err);
  }
  // Signals are handled from before the banner: whoever waits for it may signal at once.
  const reloader = new CertificateReloader(server, { cert: certificate.certPath, key: certificate.keyPath }, { logger });
  reloader.setCurrent(certificate);
  await reloader.watch();
  handleSignals(server, reloader, logger);
  (ctx.stdout ?? process.stdout).write(
    formatBanner({ version: ctx.version, explicit: addresses.explicit, implicit: addresses.implicit, config, certificate }),
  );
  if (certificate.source === 'generated' && !config.tls) logger.info({ path: certificate.certPath }, 'generated a self-signed certificate');
  return server;
}

function handleSignals(server: FtpServer, reloader: CertificateReloader, logger: ReturnType<typeof createLogger>): void {
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
    server.close(DEFAULTS.shutdownGraceMs).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/** `cannot listen on 127.0.0.1:2121: address already in use`. */
function listenError(err: unknown): Error {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = e.address !== undefined && e.port !== undefined ? ` on ${formatAddress(e.address, e.port)}` : '';
  const why =
    e.code === 'EADDRINUSE'
      ? 'address already in use'
      : e.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges)'
        : e.code === 'EADDRNOTAVAIL'
          ? 'address not available on this host'
          : e.message;
  return new Error(`cannot listen${where}: ${why}`, { cause: err });
}
