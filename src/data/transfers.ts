/**
 * The data side of one session: the prepared data connection (PASV/EPSV listener or PORT/EPRT target)
 * and the transfer running over it. Transfers write their own final reply, so an ABOR's reply always
 * follows the transfer's 426 (RFC 959 4.1.3).
 */
import type { Duplex } from 'node:stream';
import type { DataSetup, TransferSource } from '../commands/context.js';
import type { ServerEvents, SessionInfo } from '../events.js';
import { logs, type Logger } from '../logger.js';
import { FtpError } from '../protocol/errors.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { SessionState } from '../session.js';
import { clearDataAllowed, sessionReuse } from '../policy.js';
import type { ServerSettings } from '../settings.js';
import type { Upload } from '../storage/storage.js';
import { formatPath, type VirtualPath } from '../storage/virtual-path.js';
import type { TlsContexts } from '../tls/context.js';
import type { SessionBinder } from '../tls/session-reuse.js';
import { connectActive, type ActiveTarget } from './active.js';
import { protectDataSocket, reuseRefusal } from './data-channel.js';
import { PassiveListener } from './passive.js';
import { advertisedPort, isPublicAddress } from './pasv-address.js';
import { isIPv4 } from 'node:net';
import { runDownload, runUpload, type DataLink, type TransferOutcome } from './transfer.js';
import { reportError, traceTransfer } from '../diagnostics.js';

/** What the transfers of a session need from its connection. */
export interface TransferHost {
  readonly settings: ServerSettings;
  readonly session: SessionState;
  readonly log: Logger;
  readonly events: ServerEvents;
  readonly info: SessionInfo;
  readonly localAddress: string;
  readonly remoteAddress: string;
  /** The control connection came through a PROXY-protocol proxy: the addresses above are from its header. */
  readonly proxied?: boolean;
  readonly tls: TlsContexts | undefined;
  /** The control connection's TLS session binder (undefined without TLS or with session reuse off). */
  readonly binder: SessionBinder | undefined;
  send(r: Reply): Promise<void>;
  /** Restarts the idle timer. */
  touch(): void;
}

interface RunningTransfer {
  controller: AbortController;
  done: Promise<void>;
  bytes: number;
}

export class Transfers {
  private passive: PassiveListener | undefined;
  private active: ActiveTarget | undefined;
  private running: RunningTransfer | undefined;
  /** Bytes this session moved over data connections, by direction (listings count as sent). */
  private readonly moved = { sent: 0, received: 0 };
  private direction: 'sent' | 'received' = 'sent';
  /** The private-address warning was logged (once per session). */
  private warnedPrivate = false;
  /** Whether the client's address is public (asked once: it does not change during a session). */
  private remotePublic: boolean | undefined;

  constructor(private readonly host: TransferHost) {}

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

  async prepare(setup: DataSetup): Promise<{ host: string; port: number } | void> {
    this.drop();
    const { settings, proxied } = this.host;
    if (setup.kind === 'active') {
      // Behind a proxy the local address is the proxy's destination, maybe not ours: let the system pick.
      this.active = { host: setup.host, port: setup.port, localAddress: proxied ? undefined : this.host.localAddress };
      return;
    }
    this.passive = await PassiveListener.open({
      host: this.host.localAddress,
      ...(proxied ? { fallbackHosts: ['::', '0.0.0.0'] } : {}),
      ports: settings.pasvPorts,
      peer: this.host.remoteAddress,
      onForeign: (address) => this.host.log.warn({ foreign: address }, 'refused a data connection from a foreign address'),
    });
    const port = advertisedPort(this.passive.port, settings.pasvPorts, settings.pasvAdvertisedPorts);
    // EPSV carries no address: the client uses the one it connected to.
    if (setup.extended) return { host: this.host.localAddress, port };
    const host = await this.advertisedAddress();
    if (!isIPv4(host)) {
      this.drop();
      throw new FtpError(425, 'PASV is for IPv4: use EPSV.');
    }
    return { host, port };
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

  /** Closes a prepared data connection that no transfer used. */
  drop(): void {
    this.passive?.close();
    this.passive = undefined;
    this.active = undefined;
  }

  /**
   * Takes the prepared data connection for one transfer. `release` closes what the transfer did not use
   * (a RETR of a missing file fails before connecting: its listener and any waiting connection go).
   */
  private dataLink(): { link: DataLink; release: () => void } {
    const passive = this.passive;
    const active = this.active;
    this.passive = undefined;
    this.active = undefined;
    if (!passive && !active) throw new FtpError(425, 'Use PORT or PASV first.', { code: 'FTP_ERR_DATA_CONNECTION' });
    const protectedData = this.host.session.prot === 'P';
    // Checked before the passive connection is taken: whoever connected there (the client, or someone
    // on its address who came first) is closed with the listener, and no byte moves.
    if (!protectedData && !clearDataAllowed(this.host.settings, this.host.session.usedTls)) {
      passive?.close();
      throw new FtpError(521, 'Data connections must be protected: send PROT P.');
    }
    const { timeouts } = this.host.settings;
    const link: DataLink = {
      connect: async (signal) => {
        if (passive) {
          try {
            const socket = await passive.accept(timeouts.dataConnectMs, signal);
            passive.take();
            return socket;
          } finally {
            passive.close();
          }
        }
        return connectActive(active!, timeouts.dataConnectMs, signal);
      },
      opening: (text) => this.host.send(reply(150, text)),
      protect: async (socket, signal, upload): Promise<Duplex> => {
        if (!protectedData) return socket;
        const tls = this.host.tls;
        if (!tls) throw new FtpError(425, 'TLS is not configured.');
        try {
          const secured = await protectDataSocket(socket, {
            contexts: tls,
            binder: this.host.binder,
            reuse: sessionReuse(this.host.settings),
            handshakeTimeoutMs: timeouts.handshakeMs,
            signal,
            ...(upload ? { upload: { requireCloseNotify: this.host.settings.uploads.requireCloseNotify } } : {}),
          });
          if (this.host.events.listenerCount('tls-handshake') > 0) {
            this.host.events.emit('tls-handshake', { ...this.host.info, channel: 'data', ok: true, resumed: secured.isSessionReused() });
          }
          return secured;
        } catch (err) {
          if (err instanceof FtpError && err.code === 'FTP_ERR_TLS_REUSE') {
            // The handshake itself completed; the session it used is what is refused.
            this.host.events.emit('tls-handshake', { ...this.host.info, channel: 'data', ok: true, resumed: false });
            this.host.events.emit('reuse-refused', this.host.info);
            this.host.log.info({ peer: this.host.remoteAddress, ...reuseRefusal(err.message) }, 'data connection refused: TLS session reuse');
          } else if (!signal.aborted) {
            this.host.events.emit('tls-handshake', { ...this.host.info, channel: 'data', ok: false });
          }
          throw err;
        }
      },
      ascii: this.host.session.type === 'A',
      stalledMs: timeouts.stalledTransferMs,
      lingerMs: 10_000,
      onBytes: (n) => {
        this.moved[this.direction] += n;
        if (this.running) this.running.bytes += n;
      },
    };
    return { link, release: () => passive?.close() };
  }

  /**
   * Runs one transfer and writes its final reply. `done` resolves only after that reply was written, so
   * an ABOR's own reply always follows the transfer's 426 (RFC 959 4.1.3).
   */
  private async runTransfer(
    run: (link: DataLink, signal: AbortSignal) => Promise<TransferOutcome>,
    ended: (outcome: TransferOutcome) => void,
    direction: 'download' | 'upload',
    pathOf: () => VirtualPath | undefined,
  ): Promise<number> {
    const { link, release } = this.dataLink();
    const controller = new AbortController();
    let finish!: () => void;
    this.running = { controller, done: new Promise((r) => (finish = r)), bytes: 0 };
    this.direction = direction === 'download' ? 'sent' : 'received';
    const { info, session } = this.host;
    const trace = () => ({ sessionId: info.id, remoteAddress: info.remoteAddress, user: session.user?.name, direction, protected: session.prot === 'P' });
    return traceTransfer(trace, async (traced) => {
      try {
        const outcome = await run(link, controller.signal);
        if (outcome.error !== undefined) {
          this.host.log.error({ err: outcome.error }, 'transfer failed');
          reportError(this.host.events, outcome.error, info.id);
        }
        if (traced) {
          const path = pathOf();
          Object.assign(traced, { path: path && formatPath(path), bytes: outcome.bytes, code: outcome.reply.code, ok: outcome.ok });
        }
        ended(outcome);
        await this.host.send(outcome.reply);
        return outcome.reply.code;
      } finally {
        release();
        this.running = undefined;
        finish();
        this.host.touch();
      }
    });
  }

  /**
   * A file transfer whose file was opened ended: the `transfer-end` event (completed or not) and its
   * log line. Listings and transfers refused before the file opened (550, ...) are not file transfers.
   */
  private transferEnded(direction: 'upload' | 'download', path: VirtualPath, outcome: TransferOutcome, started: number): void {
    const { session, events, log } = this.host;
    const emit = events.listenerCount('transfer-end') > 0;
    const info = logs(log, 'info');
    if (!emit && !info) return;
    const event = {
      ...this.host.info,
      direction,
      path: formatPath(path),
      bytes: outcome.bytes,
      durationMs: Date.now() - started,
      mode: session.type === 'A' ? ('ascii' as const) : ('binary' as const),
      protection: session.prot === 'P' ? ('private' as const) : ('clear' as const),
      ok: outcome.ok,
      code: outcome.reply.code,
      anonymous: session.user?.anonymous === true,
    };
    if (emit) events.emit('transfer-end', event);
    if (!info) return;
    const { id: _id, remoteAddress, durationMs, ok, ...fields } = event;
    log.info({ ...fields, peer: remoteAddress, ms: durationMs, ...(outcome.cut ? { cut: outcome.cut } : {}) }, ok ? 'transfer complete' : 'transfer failed');
  }

  /** Runs a download (RETR, or a listing: no path); resolves with its final reply code. */
  async download(source: () => Promise<TransferSource>, opening: string): Promise<number> {
    let path: VirtualPath | undefined;
    const started = Date.now();
    return this.runTransfer(
      (link, signal) =>
        runDownload(
          link,
          async () => {
            const s = await source();
            path = s.path;
            return s.stream;
          },
          opening,
          signal,
        ),
      (outcome) => {
        if (path) this.transferEnded('download', path, outcome, started);
        if (!outcome.ok || !path || this.host.events.listenerCount('download') === 0) return;
        this.host.events.emit('download', {
          ...this.host.info,
          path: formatPath(path),
          bytes: outcome.bytes,
          durationMs: Date.now() - started,
          secure: this.host.session.prot === 'P',
        });
      },
      'download',
      () => path,
    );
  }

  /** Runs an upload (STOR, APPE, STOU); resolves with its final reply code. */
  async upload(upload: () => Promise<Upload>, opening: string, path: VirtualPath): Promise<number> {
    const started = Date.now();
    let opened = false;
    const open = async () => {
      const target = await upload();
      opened = true;
      return target;
    };
    return this.runTransfer(
      (link, signal) => runUpload(link, open, opening, signal),
      (outcome) => {
        if (opened) this.transferEnded('upload', path, outcome, started);
        if (outcome.cut === 'no-close-notify') {
          this.host.log.warn(
            { peer: this.host.remoteAddress, user: this.host.session.user?.name, path: formatPath(path), setting: 'uploads.requireCloseNotify' },
            'upload aborted (426): the data connection ended without TLS close_notify; uploads.requireCloseNotify: false accepts such uploads',
          );
        }
        if (!outcome.ok || this.host.events.listenerCount('upload') === 0) return;
        this.host.events.emit('upload', {
          ...this.host.info,
          path: formatPath(path),
          bytes: outcome.bytes,
          durationMs: Date.now() - started,
          secure: this.host.session.prot === 'P',
        });
      },
      'upload',
      () => path,
    );
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
    this.running?.controller.abort();
    this.drop();
  }
}
