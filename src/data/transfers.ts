/**
 * The data side of one session: the prepared data connection (PASV/EPSV listener or PORT/EPRT target),
 * the transfer running over it, and the TLS session binder of the control connection that protected
 * data connections must resume (policy.ts decides how). It is built with its own collaborators (the
 * settings, the TLS contexts, the reply writer, the session observer) and calls nothing else of the
 * connection. Transfers write their own final reply, so an ABOR's reply always follows the transfer's
 * 426 (RFC 959 4.1.3); each transfer's outcome goes to the observer just before that reply.
 */
import { bucketsFor, throttle, type TokenBucket } from './bandwidth.js';
import type { Duplex } from 'node:stream';
import type { DataSetup, TransferSource } from './data-setup.js';
import type { Logger } from '../logger.js';
import { FtpError } from '../base/errors.js';
import { reply, type Reply } from '../base/reply.js';
import type { SessionState } from '../session.js';
import { clearDataAllowed, sessionReuse, sessionReuseFor, type ReuseDecision } from '../policy.js';
import type { ServerSettings } from '../settings.js';
import type { Upload } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { TlsContexts } from '../tls/context.js';
import { SessionBinder } from '../tls/session-reuse.js';
import type { SessionObserver } from '../session-observer.js';
import { connectActive, type ActiveTarget } from './active.js';
import { protectDataSocket, type DataTlsOptions } from './data-channel.js';
import { EarlyDataTls } from './early-tls.js';
import type { Socket } from 'node:net';
import { PassiveListener } from './passive.js';
import { advertisedPort, isPublicAddress } from '../security/pasv-address.js';
import { isIPv4 } from 'node:net';
import { runDownload, runUpload, type DataLink, type TransferOutcome } from './transfer.js';
import { traceTransfer } from '../diagnostics.js';
import { Code } from '../base/reply-codes.js';

/** What a session's data side is built with. */
export interface TransferParts {
  readonly settings: ServerSettings;
  /** The protocol state (TYPE, PROT, the user): read when a transfer starts. */
  readonly session: SessionState;
  /** The control connection's addresses (from the PROXY header when `proxied`). */
  readonly localAddress: string;
  readonly remoteAddress: string;
  /** The control connection came through a PROXY-protocol proxy. */
  readonly proxied: boolean;
  readonly tls: TlsContexts | undefined;
  /** The session's logger. */
  readonly log: Logger;
  /** Where each transfer's outcome goes (events, logs, traces). */
  readonly observer: SessionObserver;
  /** Writes a reply on the control connection (150, and each transfer's final reply). */
  reply(r: Reply): Promise<void>;
  /** Restarts the idle timer. */
  touch(): void;
}

interface RunningTransfer {
  controller: AbortController;
  done: Promise<void>;
  bytes: number;
  direction: 'download' | 'upload';
  started: number;
  /** The file, once known (undefined for a listing). */
  path: () => VirtualPath | undefined;
  /** Bytes it will move, when known. */
  size: () => number | undefined;
}

/** The running transfer as admin tools see it (embed/sessions.ts). */
export interface TransferProgress {
  direction: 'download' | 'upload';
  /** The file, or undefined for a listing. */
  path: VirtualPath | undefined;
  bytes: number;
  /** Bytes it will move, when known (a download of a file). */
  expectedSize: number | undefined;
  /** When it started (ms since the epoch). */
  started: number;
}

export class Transfers {
  /** The session's passive listener, kept across transfers (passive.ts); closes itself when idle. */
  private listener: PassiveListener | undefined;
  /** The arming of `listener` a PASV/EPSV prepared for the next transfer (0: none). */
  private passive = 0;
  /** The TLS watch of that arming's connection, once accepted under PROT P (early-tls.ts). */
  private early: EarlyDataTls | undefined;
  private active: ActiveTarget | undefined;
  private running: RunningTransfer | undefined;
  /** Bytes this session moved over data connections, by direction (listings count as sent). */
  private readonly moved = { sent: 0, received: 0 };
  private direction: 'sent' | 'received' = 'sent';
  /** This session's bandwidth buckets (bandwidth.ts), made when a limit is set. */
  private readonly buckets: { download?: TokenBucket; upload?: TokenBucket } = {};
  /** The private-address warning was logged (once per session). */
  private warnedPrivate = false;
  /** Whether the client's address is public (asked once: it does not change during a session). */
  private remotePublic: boolean | undefined;

  /** The control connection's TLS session binder (none before TLS or with session reuse off). */
  private binder: SessionBinder | undefined;
  /** The connection went away (stop()). */
  private stopped = false;

  constructor(private readonly host: TransferParts) {}

  /**
   * The control connection starts TLS (AUTH, implicit FTPS): a new binder, when the session-reuse policy
   * binds data to the control connection's TLS sessions, to hand to the control TLSSocket.
   */
  bindTls(): SessionBinder | undefined {
    // A new TLS start on the control connection (AUTH again after CCC): protected again.
    this.host.session.cleared = false;
    this.binder = sessionReuse(this.host.settings).bind ? new SessionBinder() : undefined;
    return this.binder;
  }

  /** The session-reuse decision for this session's next protected data connection (policy.ts). */
  private reuseDecision(): ReuseDecision {
    const { settings, session, remoteAddress } = this.host;
    return sessionReuseFor(settings, { cleared: session.cleared, sessionKnown: this.binder?.knowsAny() === true }, { user: session.user?.name, remoteAddress });
  }

  get transferring(): boolean {
    return this.running !== undefined;
  }

  /** Bytes moved by the running transfer. */
  /** Bytes sent and received over this session's data connections so far, the running transfer included. */
  get totals(): { sent: number; received: number } {
    return { ...this.moved };
  }

  get bytes(): number {
    return this.running?.bytes ?? 0;
  }

  /** The running transfer, or undefined. */
  get progress(): TransferProgress | undefined {
    const r = this.running;
    return r && { direction: r.direction, path: r.path(), bytes: r.bytes, expectedSize: r.size(), started: r.started };
  }

  async prepare(setup: DataSetup): Promise<{ host: string; port: number } | void> {
    this.drop();
    const { settings, proxied } = this.host;
    if (setup.kind === 'active') {
      // An active-mode client: the passive listener is not kept for it.
      this.listener?.close();
      this.listener = undefined;
      // Behind a proxy the local address is the proxy's destination, maybe not ours: let the system pick.
      this.active = { host: setup.host, port: setup.port, localAddress: proxied ? undefined : this.host.localAddress };
      return;
    }
    const listener = await this.passiveListener();
    this.passive = listener.arm();
    const port = advertisedPort(listener.port, settings.pasvPorts, settings.pasvAdvertisedPorts);
    // EPSV carries no address: the client uses the one it connected to.
    if (setup.extended) return { host: this.host.localAddress, port };
    const host = await this.advertisedAddress();
    if (!isIPv4(host)) {
      this.drop();
      throw new FtpError(Code.cannotOpenData, 'PASV is for IPv4: use EPSV.');
    }
    return { host, port };
  }

  /** The session's listener: the kept one while it is open and serves the configured range, else a new one. */
  private async passiveListener(): Promise<PassiveListener> {
    const { settings, proxied } = this.host;
    const kept = this.listener;
    if (kept?.usable && kept.servesRange(settings.pasvPorts)) return kept;
    kept?.close();
    this.listener = undefined;
    const listener = await PassiveListener.open({
      host: this.host.localAddress,
      ...(proxied ? { fallbackHosts: ['::', '0.0.0.0'] } : {}),
      ports: settings.pasvPorts,
      peer: this.host.remoteAddress,
      onForeign: (address) => this.host.log.warn({ foreign: address }, 'refused a data connection from a foreign address'),
      onAccept: (socket) => this.accepted(socket),
    });
    // stop() may have run while it opened (the connection went away).
    if (this.stopped) {
      listener.close();
      throw new FtpError(Code.cannotOpenData, "Can't open data connection.", { code: 'FTP_ERR_DATA_CONNECTION' });
    }
    this.listener = listener;
    return listener;
  }

  /** The PASV address for this client (pasvAddress rules, else the local address), with NAT warnings. */
  private async advertisedAddress(): Promise<string> {
    const { settings, remoteAddress, localAddress, log } = this.host;
    const advertised = settings.pasvAddress ? await settings.pasvAddress.addressFor(remoteAddress) : { address: undefined };
    if (advertised.error) log.warn({ error: advertised.error, advertised: advertised.address ?? localAddress }, 'pasvAddress lookup failed');
    const host = advertised.address ?? localAddress;
    this.remotePublic ??= isPublicAddress(remoteAddress);
    if (!this.warnedPrivate && this.remotePublic && !isPublicAddress(host)) {
      this.warnedPrivate = true;
      log.warn(
        { peer: remoteAddress, advertised: host },
        'PASV advertises a private address to a client with a public address (behind NAT? set pasvAddress)',
      );
    }
    return host;
  }

  /**
   * The passive connection of the current arming came: under PROT P its ClientHello is watched for at
   * once, and answered before the transfer command if it comes first (early-tls.ts). A connection that
   * comes after the command (the arming is taken) is the transfer's alone.
   */
  private accepted(socket: Socket): void {
    if (!this.passive || this.host.session.prot !== 'P' || !this.host.tls) return;
    const { timeouts, uploads } = this.host.settings;
    this.early?.release();
    this.early = new EarlyDataTls(socket, {
      tlsOptions: () => this.dataTlsOptions(),
      requireCloseNotify: uploads.requireCloseNotify,
      helloTimeoutMs: timeouts.idleMs,
      handshakeTimeoutMs: timeouts.handshakeMs,
    });
  }

  /** What this session's protected data connections are made with now (none without TLS). */
  private dataTlsOptions(upload?: boolean): DataTlsOptions | undefined {
    const tls = this.host.tls;
    if (!tls) return undefined;
    return {
      contexts: tls,
      binder: this.binder,
      reuse: this.reuseDecision(),
      ...(tls.clientCerts ? { clientCerts: { required: tls.clientCerts.required === true, control: this.host.session.clientCert } } : {}),
      ...(upload ? { upload: { requireCloseNotify: this.host.settings.uploads.requireCloseNotify } } : {}),
    };
  }

  /** Closes a prepared data connection that no transfer used. */
  drop(): void {
    if (this.passive) this.listener?.release(this.passive);
    this.passive = 0;
    this.active = undefined;
    this.early?.release();
    this.early = undefined;
  }

  /**
   * Takes the prepared data connection for one transfer. `release` closes what the transfer did not use
   * (a RETR of a missing file fails before connecting: its listener and any waiting connection go).
   */
  private dataLink(): { link: DataLink; release: () => void } {
    const generation = this.passive;
    const passive = generation ? this.listener : undefined;
    const active = this.active;
    const early = this.early;
    this.passive = 0;
    this.active = undefined;
    this.early = undefined;
    if (!passive && !active) throw new FtpError(Code.cannotOpenData, 'Use PORT or PASV first.', { code: 'FTP_ERR_DATA_CONNECTION' });
    const protectedData = this.host.session.prot === 'P';
    // Checked before the passive connection is taken: whoever connected there (the client, or someone
    // on its address who came first) is closed with the listener, and no byte moves.
    if (!protectedData && !clearDataAllowed(this.host.settings, this.host.session.usedTls)) {
      early?.release();
      passive?.release(generation);
      throw new FtpError(Code.dataProtectionRequired, 'Data connections must be protected: send PROT P.');
    }
    const { timeouts } = this.host.settings;
    const link: DataLink = {
      connect: async (signal, paused) => {
        if (passive) {
          try {
            const socket = await passive.accept(timeouts.dataConnectMs, signal);
            passive.take();
            return socket;
          } catch (err) {
            passive.release(generation);
            throw err;
          }
        }
        return connectActive(active!, timeouts.dataConnectMs, signal, paused);
      },
      encrypted: protectedData,
      opening: (text) => this.host.reply(reply(Code.openingData, text)),
      protect: async (socket, signal, upload): Promise<Duplex> => {
        // The connection's early TLS watch, if it is this one (early-tls.ts).
        const watch = early?.socket === socket ? early : undefined;
        if (!protectedData) {
          watch?.clear();
          return socket;
        }
        const tlsOptions = this.dataTlsOptions(upload);
        if (!tlsOptions) throw new FtpError(Code.cannotOpenData, 'TLS is not configured.');
        try {
          const options = { ...tlsOptions, handshakeTimeoutMs: timeouts.handshakeMs, signal };
          const secured = watch ? await watch.claim(options) : await protectDataSocket(socket, options);
          this.host.observer.dataHandshake({ ok: true, resumed: watch?.resumed ?? secured.isSessionReused(), ...(watch?.resumed !== undefined ? { early: true } : {}) });
          return secured;
        } catch (err) {
          // A refused session: the handshake itself completed; the session it used is what is refused.
          if (err instanceof FtpError && err.code === 'FTP_ERR_TLS_REUSE') this.host.observer.dataHandshake({ ok: false, refused: err.message });
          else if (err instanceof FtpError && err.code === 'FTP_ERR_CLIENT_CERT') this.host.observer.dataHandshake({ ok: false, refused: err.message, by: 'certificate' });
          else if (!signal.aborted) this.host.observer.dataHandshake({ ok: false });
          throw err;
        }
      },
      uploading: (socket) => {
        if (early?.socket === socket) early.uploading();
      },
      ascii: this.host.session.type === 'A',
      stalledMs: timeouts.stalledTransferMs,
      lingerMs: 10_000,
      throttle: () => {
        const buckets = bucketsFor(this.host.settings.limits, this.direction === 'sent' ? 'download' : 'upload', this.buckets, this.host.session.user?.bandwidth);
        return buckets.length > 0 ? throttle(buckets) : undefined;
      },
      onBytes: (n) => {
        this.moved[this.direction] += n;
        if (this.running) this.running.bytes += n;
      },
    };
    return {
      link,
      release: () => {
        early?.release();
        passive?.release(generation);
      },
    };
  }

  /**
   * Runs one transfer, hands its outcome to the observer and writes its final reply. `done` resolves
   * only after that reply was written, so an ABOR's own reply always follows the transfer's 426 (RFC 959
   * 4.1.3). Resolves with the final reply code.
   */
  private async runTransfer(
    direction: 'download' | 'upload',
    run: (link: DataLink, signal: AbortSignal) => Promise<TransferOutcome>,
    /** The file, once known, and whether it was opened (a file transfer, not one refused before). */
    target: () => { path: VirtualPath | undefined; opened: boolean },
    size: () => number | undefined = () => undefined,
  ): Promise<number> {
    const { link, release } = this.dataLink();
    const controller = new AbortController();
    const started = Date.now();
    let finish!: () => void;
    this.running = { controller, done: new Promise((r) => (finish = r)), bytes: 0, direction, started, path: () => target().path, size };
    this.direction = direction === 'download' ? 'sent' : 'received';
    const { session, remoteAddress, observer } = this.host;
    const trace = () => ({ sessionId: observer.sessionId, remoteAddress, user: session.user?.name, direction, protected: session.prot === 'P' });
    return traceTransfer(trace, async (traced) => {
      try {
        const outcome = await run(link, controller.signal);
        observer.transfer({ direction, ...target(), outcome, started }, traced);
        await this.host.reply(outcome.reply);
        return outcome.reply.code;
      } finally {
        release();
        this.running = undefined;
        finish();
        this.host.touch();
      }
    });
  }

  /** Runs a download (RETR, or a listing: no path); resolves with its final reply code. */
  async download(source: () => Promise<TransferSource>, opening: string): Promise<number> {
    let path: VirtualPath | undefined;
    let size: number | undefined;
    const open = async () => {
      const s = await source();
      path = s.path;
      size = s.size;
      return s.stream;
    };
    return this.runTransfer('download', (link, signal) => runDownload(link, open, opening, signal), () => ({ path, opened: path !== undefined }), () => size);
  }

  /** Runs an upload (STOR, APPE, STOU); resolves with its final reply code. */
  async upload(upload: () => Promise<Upload>, opening: string, path: VirtualPath): Promise<number> {
    let opened = false;
    const open = async () => {
      const target = await upload();
      opened = true;
      return target;
    };
    return this.runTransfer('upload', (link, signal) => runUpload(link, open, opening, signal), () => ({ path, opened }));
  }

  /** ABOR: stops the running transfer (its reply is written first); false if none ran. */
  async abort(): Promise<boolean> {
    const running = this.running;
    if (!running) {
      this.drop();
      return false;
    }
    running.controller.abort();
    await running.done;
    return true;
  }

  /** Resolves when no transfer is running. */
  async idle(): Promise<void> {
    await this.running?.done;
  }

  /** The connection is going away: stop everything. */
  stop(): void {
    this.stopped = true;
    this.running?.controller.abort();
    this.drop();
    this.listener?.close();
    this.listener = undefined;
  }
}
