/**
 * ACME at start-up, for the process that orders (`ftpsd serve` alone, or the cluster's primary): when
 * `acme` is set, binds the challenge responder (before any privilege drop) and reads the stored pair;
 * `install` puts each new pair in service (a single process reloads its certificate, the primary tells
 * its workers). The ACME code is loaded only when configured.
 */
import type { AcmeServiceOptions, AcmeService } from '../acme/service.js';
import type { ResolvedConfig } from '../config/load.js';
import type { Logger } from '../logger.js';
import { acmeWithIpv4Fallback } from './ipv6.js';

export async function startAcme(
  config: Pick<ResolvedConfig, 'acme' | 'stateDir'>,
  log: Logger,
  owner: AcmeServiceOptions['owner'],
  install: AcmeServiceOptions['install'],
): Promise<AcmeService | undefined> {
  if (!config.acme) return undefined;
  const { prepareAcme } = await import('../acme/service.js');
  return prepareAcme({ settings: await acmeWithIpv4Fallback(config.acme), stateDir: config.stateDir, log, owner, install });
}
