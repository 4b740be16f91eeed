/**
 * The data side of one session: the prepared data connection (PASV/EPSV listener or PORT/EPRT target)
 * and the transfer running over it. Transfers write their own final reply, so an ABOR's reply always
 * follows the transfer's 426 (RFC 959 4.1.3).
 */
import type { Duplex } from 'node:stream';
import type { DataSetup, TransferSource } from '../commands/context.js';
import type { ServerEvents, SessionInfo } from '../events.js';
import type { Logger } from '../logger.js';
import { FtpError } from '../protocol/errors.js';
import { reply, type Reply } from '../protocol/reply.js';
import type { SessionState } from '../session.js';
import type { ServerSettings } from '../settings.js';
import type { Upload } from '../storage/storage.js';
import { formatPath, type VirtualPath } from '../storage/virtual-path.js';
import type { TlsContexts } from '../tls/context.js';
import type { SessionBinder } from '../tls/session-reuse.js';
import { connectActive, type ActiveTarget } from './active.js';
import { protectDataSocket } from './data-channel.js';
import { PassiveListener } from './passive.js';
import { runDownload, runUpload, type DataLink, type TransferOutcome } from './transfer.js';

/** What the transfers of a session need from its connection. */
export interface TransferHost {
  readonly settings: ServerSettings;
  readonly session: SessionState;
  readonly log: Logger;
  readonly events: ServerEvents;
  readonly info: SessionInfo;
  readonly localAddress: string;
  readonly remoteAddress: string;
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

  constructor(private readonly host: TransferHost) {}

  get transferring(): boolean {
    return this.running !== undefined;
  }

  /** Bytes moved by the running transfer. */
  get bytes(): number {
    return this.running?.bytes ?? 0;
  }

  async prepare(setup: DataSetup): Promise<{ host: string; port: number } | void> {
    this.drop();
    if (setup.kind === 'active') {
      this.active = { host: setup.host, port: setup.port, localAddress: this.host.localAddress };
      return;
    }
    this.passive = await PassiveListener.open({
      host: this.host.localAddress,
      ports: this.host.settings.pasvPorts,
      peer: this.host.remoteAddress,
      onForeign: (address) => this.host.log.warn({ foreign: address }, 'refused a data connection from a foreign address'),
    });
    return { host: this.host.settings.pasvAddress ?? this.host.localAddress, port: this.passive.port };
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
    if (this.host.settings.tlsRequired === 'all' && !protectedData) {
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
      protect: async (socket, signal): Promise<Duplex> => {
        if (!protectedData) return socket;
        const tls = this.host.tls;
        if (!tls) throw new FtpError(425, 'TLS is not configured.');
        return protectDataSocket(socket, {
          contexts: tls,
          binder: this.host.binder,
          reuse: this.host.settings.sessionReuse,
          handshakeTimeoutMs: timeouts.handshakeMs,
          signal,
        });
      },
      ascii: this.host.session.type === 'A',
      stalledMs: timeouts.stalledTransferMs,
      lingerMs: 10_000,
      onBytes: (n) => {
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
  ): Promise<void> {
    const { link, release } = this.dataLink();
    const controller = new AbortController();
    let finish!: () => void;
    this.running = { controller, done: new Promise((r) => (finish = r)), bytes: 0 };
    try {
      const outcome = await run(link, controller.signal);
      if (outcome.error !== undefined) this.host.log.error({ err: outcome.error }, 'transfer failed');
      ended(outcome);
      await this.host.send(outcome.reply);
    } finally {
      release();
      this.running = undefined;
      finish();
      this.host.touch();
    }
  }

  async download(source: () => Promise<TransferSource>, opening: string): Promise<void> {
    let path: VirtualPath | undefined;
    const started = Date.now();
    await this.runTransfer(
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
        if (!outcome.ok || !path) return;
        this.host.events.emit('download', {
          ...this.host.info,
          path: formatPath(path),
          bytes: outcome.bytes,
          durationMs: Date.now() - started,
          secure: this.host.session.prot === 'P',
        });
      },
    );
  }

  async upload(upload: () => Promise<Upload>, opening: string, path: VirtualPath): Promise<void> {
    const started = Date.now();
    await this.runTransfer(
      (link, signal) => runUpload(link, upload, opening, signal),
      (outcome) => {
        if (!outcome.ok) return;
        this.host.events.emit('upload', {
          ...this.host.info,
          path: formatPath(path),
          bytes: outcome.bytes,
          durationMs: Date.now() - started,
          secure: this.host.session.prot === 'P',
        });
      },
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
