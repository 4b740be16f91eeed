/**
 * One dedicated connection per node that LISTENs for changes to users and bans (the triggers of
 * migrations.ts) and for admins' requests to end one of its sessions (session-registry.ts), so a change reaches the node within milliseconds. When the connection is lost the
 * listener says so once (`down`), reconnects with backoff (0.5 s doubling to 10 s), and on its return
 * (`up`) the node resynchronises, since notifications sent meanwhile are lost.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { BANS_CHANNEL, END_SESSION_CHANNEL, USERS_CHANNEL } from './migrations.js';
import { clientConfig, loadPg } from './connect.js';

export type BanNotice = { network: string; until: number } | { network: string; lifted: true };

export interface ListenerEvents {
  user: [name: string];
  ban: [notice: BanNotice];
  /** An admin asks `node` to end its session `id` (session-registry.ts). */
  endSession: [node: string, id: string];
  /** Connected (again): whatever changed while down must be read anew. */
  up: [];
  down: [err: Error];
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export class ChangeListener extends EventEmitter<ListenerEvents> {
  private client: pg.Client | undefined;
  private retryMs = FIRST_RETRY_MS;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the LISTEN connection is up now. */
  connected = false;

  constructor(private readonly url: string) {
    super();
  }

  /** Connects once (rejects when the database cannot be reached); later losses reconnect by themselves. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const { Client } = await loadPg();
    const client = new Client(clientConfig(this.url));
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (n) => this.notice(n.channel, n.payload ?? ''));
    try {
      await client.connect();
      await client.query(`listen ${USERS_CHANNEL}`);
      await client.query(`listen ${BANS_CHANNEL}`);
      await client.query(`listen ${END_SESSION_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
    this.retryMs = FIRST_RETRY_MS;
    this.emit('up');
  }

  private notice(channel: string, payload: string): void {
    if (channel === USERS_CHANNEL) {
      this.emit('user', payload);
      return;
    }
    if (channel === END_SESSION_CHANNEL) {
      try {
        const v = JSON.parse(payload) as { node?: unknown; id?: unknown };
        if (typeof v.node === 'string' && typeof v.id === 'string') this.emit('endSession', v.node, v.id);
      } catch {
        // not ours: ignored
      }
      return;
    }
    if (channel !== BANS_CHANNEL) return;
    try {
      const v = JSON.parse(payload) as { network?: unknown; until?: unknown; lifted?: unknown };
      if (typeof v.network !== 'string') return;
      if (v.lifted === true) this.emit('ban', { network: v.network, lifted: true });
      else if (typeof v.until === 'number') this.emit('ban', { network: v.network, until: v.until });
    } catch {
      // not ours: ignored
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.connected = false;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    if (this.closed) return;
    this.emit('down', err);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect().catch(() => {
        this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
        this.schedule();
      });
    }, this.retryMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (client) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
