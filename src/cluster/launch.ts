/**
 * `ftpsd serve` with cluster mode: `workers` 1 is the single process of src/runtime/serve.ts exactly; more
 * starts the primary (primary.ts), and a process forked by it runs as a worker (worker.ts). The config
 * is loaded and checked before anything forks, so a bad flag or file fails as it always did (one line,
 * exit code 2). Each role loads only its own code: the primary none of the FTP server's.
 */
import cluster from 'node:cluster';
import { loadConfig, type CliFlags } from '../config/load.js';
import { keepGeneratedAccount } from '../config/generated-account.js';
import { UsageError } from '../runtime/exit.js';
import type { ServeContext } from '../runtime/serve.js';

/** Serves as a single process, the primary of a cluster, or one of its workers. */
export async function serveCommand(flags: CliFlags, ctx: Pick<ServeContext, 'version' | 'env' | 'admin'>): Promise<void> {
  // A worker forked with the command line (the primary forks worker-main.ts, which skips it).
  if (cluster.isWorker) return (await import('./worker.js')).runWorker(ctx, flags);
  const loaded = await loadConfig(flags, ctx.env ? { env: ctx.env } : {});
  if (loaded.workers <= 1) {
    await (await import('../runtime/serve.js')).serve(flags, ctx);
    return;
  }
  // The primary keeps (or renews) the generated password; its workers read the same state file.
  const config = await keepGeneratedAccount(loaded, { renew: flags.newPassword === true, write: true });
  const { runPrimary, StartError } = await import('./primary.js');
  try {
    await runPrimary({ ...ctx, flags }, config);
  } catch (err) {
    // A worker's start-up error reads (and exits) as it would in a single process.
    if (err instanceof StartError) throw err.exitCode === 2 ? new UsageError(err.message) : new Error(err.message);
    throw err;
  }
}
