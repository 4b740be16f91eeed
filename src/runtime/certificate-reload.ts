/**
 * Certificate and key reload without a restart: on demand (`reload()`, which `ftpsd serve` calls on
 * SIGHUP) and when the files change (`watch()`: the directories holding them are watched, so files
 * replaced by a rename, as certbot and editors do, are seen too; events are debounced, because a renewal
 * writes the certificate and the key one after the other).
 *
 * Each reload reads both files again (and the client CA bundle and CRL file, when client certificates
 * are configured: a new CRL is taken on SIGHUP) and checks that the key belongs to the certificate and that the
 * certificate has not expired; only then does the server switch (`updateTls`). A bad pair is refused
 * with a log line that says why, and the server keeps the pair it has. Running sessions are untouched:
 * new connections get the new certificate, and protected data connections of older sessions still
 * resume their sessions (the ticket keys survive a reload).
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { checkPair } from '../config/certificate.js';
import { readClientCerts, type ClientCertsConfig } from '../config/client-cert-files.js';
import { ConfigError } from '../config/errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { TlsMaterial } from '../tls/context.js';

export interface CertificateFiles {
  /** PEM certificate (chain allowed). */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Client certificates: the CA bundle and the CRL file are read again with the pair (config/client-certs.ts). */
  clientCerts?: ClientCertsConfig;
}

export interface ReloadTarget {
  updateTls(material: TlsMaterial): void;
}

export interface ReloaderOptions {
  logger?: Logger;
  /** Quiet time after the last file event before reloading (default 1000 ms). */
  debounceMs?: number;
  /** The current time (tests). */
  now?: () => Date;
  /** Checks the files before reading them (`ftpsd serve`: owner and mode, config/file-trust.ts); throws to refuse. */
  checkFiles?: (files: CertificateFiles) => void;
}

export type ReloadResult =
  | { ok: true; changed: boolean; fingerprint256: string; validTo: Date }
  | { ok: false; error: string };

export class CertificateReloader {
  private readonly log: Logger;
  private readonly debounceMs: number;
  private watchers = new Map<string, FSWatcher>();
  private names = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReloadResult> | undefined;
  private again = false;
  private loaded: string | undefined;
  private closed = false;

  constructor(
    private readonly target: ReloadTarget,
    readonly files: CertificateFiles,
    private readonly options: ReloaderOptions = {},
  ) {
    this.log = options.logger ?? silentLogger;
    this.debounceMs = options.debounceMs ?? 1000;
  }

  /**
   * Tells the reloader which pair the server runs with now, so a reload that finds the same files
   * says "unchanged" instead of switching.
   */
  setCurrent(material: TlsMaterial): void {
    this.loaded = digest(material);
  }

  /**
   * Reads, checks and installs the pair. Never throws: the result (and the log) say what happened.
   * Calls while a reload runs are folded into one more reload after it.
   */
  reload(reason = 'reload'): Promise<ReloadResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    const run = this.reloadOnce(reason).finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.reload(reason);
      }
    });
    this.running = run;
    return run;
  }

  private async reloadOnce(reason: string): Promise<ReloadResult> {
    const { cert: certPath, key: keyPath } = this.files;
    try {
      this.options.checkFiles?.(this.files);
      const [cert, key] = await Promise.all([readPem(certPath), readPem(keyPath)]);
      const checked = checkPair(cert, key, { cert: certPath, key: keyPath });
      const now = (this.options.now ?? (() => new Date()))();
      if (checked.validTo <= now) throw new Error(`${certPath}: certificate expired on ${checked.validTo.toISOString()}`);
      const clientCerts = this.files.clientCerts ? await readClientCerts(this.files.clientCerts) : undefined;
      const material: TlsMaterial = { cert, key, ...(clientCerts ? { clientCerts } : {}) };
      const d = digest(material);
      if (d === this.loaded) {
        this.log.debug({ reason, fingerprint256: checked.fingerprint256 }, 'certificate unchanged');
        return { ok: true, changed: false, ...checked };
      }
      this.target.updateTls(material);
      this.loaded = d;
      this.log.info({ reason, fingerprint256: checked.fingerprint256, validTo: checked.validTo.toISOString() }, 'certificate reloaded');
      if (this.watchers.size > 0) await this.arm();
      return { ok: true, changed: true, ...checked };
    } catch (err) {
      const error = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
      this.log.error({ reason, cert: certPath, key: keyPath, error }, `certificate reload refused (${error}); keeping the current certificate`);
      return { ok: false, error };
    }
  }

  /** Watches both files (through their directories) and reloads after changes settle. */
  async watch(): Promise<void> {
    await this.arm();
  }

  /** (Re)creates the directory watchers: the given paths and, for symlinks, their targets. */
  private async arm(): Promise<void> {
    const { clientCerts } = this.files;
    const paths = [this.files.cert, this.files.key, ...(clientCerts ? [clientCerts.ca, ...(clientCerts.crl ? [clientCerts.crl] : [])] : [])];
    const real = await Promise.all(paths.map((p) => realpath(p).catch(() => p)));
    const all = [...new Set([...paths, ...real])];
    this.names = new Set(all.map((p) => basename(p)));
    const dirs = new Set(all.map((p) => dirname(p)));
    if (this.closed) return;
    for (const [dir, w] of this.watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || this.names.has(basename(name.toString()))) this.schedule();
        });
        w.on('error', (err) => {
          this.log.warn({ dir, error: err.message }, 'certificate watch stopped (SIGHUP still reloads)');
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (err) {
        this.log.warn({ dir, error: (err as Error).message }, 'cannot watch the certificate directory (SIGHUP still reloads)');
      }
    }
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.reload('file change'), this.debounceMs);
    this.timer.unref();
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

/**
 * For embedders: reloads `server`'s certificate when `files` change (and whenever `reload()` is called
 * on the result). `initial` is the pair the server was started with, if it came from these files.
 */
export async function watchCertificate(
  server: ReloadTarget,
  files: CertificateFiles,
  options: ReloaderOptions & { initial?: TlsMaterial } = {},
): Promise<CertificateReloader> {
  const reloader = new CertificateReloader(server, files, options);
  if (options.initial) reloader.setCurrent(options.initial);
  await reloader.watch();
  return reloader;
}

async function readPem(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read (${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message})`);
  }
}

function digest(material: TlsMaterial): string {
  const hash = createHash('sha256').update(material.cert).update('\0').update(material.key);
  const clientCerts = material.clientCerts;
  if (clientCerts) {
    hash.update('\0ca\0').update(clientCerts.ca).update(clientCerts.required ? '\0required' : '\0optional');
    for (const crl of clientCerts.crl ?? []) hash.update('\0crl\0').update(crl);
  }
  return hash.digest('hex');
}
