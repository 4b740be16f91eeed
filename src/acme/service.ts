/**
 * ACME for one process that orders (`ftpsd serve`, or the primary in cluster mode): `prepareAcme` binds
 * the challenge responder (before any privilege drop: port 80 needs it), creates `acme/` in the state
 * directory with the account key, and reads the stored pair; `start()` then runs the renewer, which
 * hands every new pair to `install`. Without a usable stored pair the caller serves its self-signed
 * certificate, and the log says why.
 */
import { formatAddress } from '../config/listen-address.js';
import { makeOwnedDir, type Owner } from '../config/owned-dir.js';
import type { Logger } from '../logger.js';
import { AlpnChallengeResponder } from './alpn-responder.js';
import { HttpChallengeResponder } from './http-responder.js';
import { AcmeRenewer } from './renewer.js';
import { ACME_DEFAULTS, type AcmeSettings } from './settings.js';
import { accountKey, acmePaths, readStored, writeCertificate, type AcmePaths, type StoredCertificate } from './store.js';

export interface AcmeServiceOptions {
  settings: AcmeSettings;
  stateDir: string;
  log: Logger;
  /** Puts a new pair in service (the server's certificate reload path). */
  install: (stored: StoredCertificate) => void | Promise<void>;
  /** With runAs: who must own `acme/` (it is written after the switch). */
  owner?: Owner | undefined;
  /** First retry delay after a failed order (default 60 s; tests use less). */
  retryMs?: number;
  now?: () => Date;
}

export interface AcmeService {
  paths: AcmePaths;
  /** The stored pair if usable now. */
  stored: StoredCertificate | undefined;
  /** Where the responder listens (the real port when 0 was asked). */
  responder: string;
  /** Starts ordering/renewing in the background. */
  start(): void;
  readonly renewer: AcmeRenewer;
  /** The responder in use (one of the two, by the challenge). */
  readonly http: HttpChallengeResponder | undefined;
  readonly alpn: AlpnChallengeResponder | undefined;
  close(): Promise<void>;
}

/** Binds the responder and reads the store; a responder that cannot listen is a start-up error (thrown). */
export async function prepareAcme(options: AcmeServiceOptions): Promise<AcmeService> {
  const { settings, log } = options;
  const paths = acmePaths(options.stateDir);
  if (options.owner) makeOwnedDir(paths.dir, options.owner);
  await accountKey(paths);
  let http: HttpChallengeResponder | undefined;
  let alpn: AlpnChallengeResponder | undefined;
  let responder: string;
  if (settings.challenge === 'http-01') {
    http = new HttpChallengeResponder(log);
    const where = settings.httpListen;
    const a = await http.listen(where.host, where.port).catch((err: unknown) => {
      throw responderError('http-01', 'httpListen', formatAddress(where.host, where.port), err);
    });
    responder = formatAddress(a.address, a.port);
  } else {
    alpn = new AlpnChallengeResponder(log);
    const where = settings.tlsAlpnListen ?? ACME_DEFAULTS.tlsAlpnListen;
    const a = await alpn.listen(where.host, where.port).catch((err: unknown) => {
      throw responderError('tls-alpn-01', 'tlsAlpnListen', formatAddress(where.host, where.port), err);
    });
    responder = formatAddress(a.address, a.port);
  }
  log.info({ challenge: settings.challenge, listen: responder, names: settings.domains, directory: settings.directory }, `acme: ${settings.challenge} responder listening on ${responder}`);
  const found = await readStored(paths, settings.domains, options.now?.());
  const stored = found.ok ? found.stored : undefined;
  if (!found.ok) log.info({ names: settings.domains, why: found.why }, `acme: serving the self-signed certificate until the CA issues one (${found.why})`);
  const renewer = new AcmeRenewer({
    renewDays: settings.renewDays,
    log,
    // acme-client (and its HTTP client) is slow to load: only when an order is due.
    order: async () => (await import('./order.js')).orderCertificate({ settings, paths, log, http, alpn, responder }),
    store: (pair) => writeCertificate(paths, pair.cert, pair.key, options.owner),
    install: options.install,
    ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
  });
  return {
    paths,
    stored,
    responder,
    renewer,
    http,
    alpn,
    start: () => renewer.start(stored),
    close: async () => {
      renewer.close();
      await Promise.all([http?.close(), alpn?.close()]);
    },
  };
}

function responderError(challenge: string, field: string, where: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'EACCES' ? 'permission denied (ports below 1024 need privileges: run as root with runAs, or give CAP_NET_BIND_SERVICE)' : code === 'EADDRINUSE' ? 'address already in use' : code ?? String(err);
  return new Error(`acme.${field}: cannot listen for ${challenge} on ${where}: ${why}`, { cause: err });
}
