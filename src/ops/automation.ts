/**
 * Events for automation: hook commands and webhooks run for uploads, downloads, deletes, renames,
 * directories made, logins and logouts. Listeners only build a small record and queue it (see
 * delivery-queue.ts), so neither a transfer nor the event loop ever waits for a hook or a webhook.
 */
import { listenTo, type ServerEvents, type ServerListeners, type SessionInfo, type TransferInfo } from '../events.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { DeliveryQueue, type DeliveryOptions } from './delivery-queue.js';
import { hookEnvironment, inheritedEnvironment, runHook, type AutomationEvent, type HookEvent, type HookSpec } from './hooks.js';
import { newDeliveryId, parseWebhook, postWebhook, type WebhookSpec, type WebhookTarget } from './webhooks.js';

export interface AutomationOptions {
  hooks?: readonly HookSpec[];
  webhooks?: readonly (WebhookSpec | string)[];
  delivery?: Partial<DeliveryOptions>;
  logger?: Logger;
  /** The environment hooks inherit (FTPSD_* removed); default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export class Automation {
  readonly queue: DeliveryQueue;
  private readonly hooks: readonly HookSpec[];
  private readonly webhooks: readonly WebhookTarget[];
  private readonly baseEnv: Record<string, string>;
  private readonly detachers: (() => void)[] = [];

  constructor(options: AutomationOptions) {
    this.hooks = options.hooks ?? [];
    this.webhooks = (options.webhooks ?? []).map((w) => parseWebhook(w));
    this.baseEnv = inheritedEnvironment(options.env);
    this.queue = new DeliveryQueue(options.delivery, options.logger ?? silentLogger);
  }

  /** Whether anything is configured at all. */
  get enabled(): boolean {
    return this.hooks.length + this.webhooks.length > 0;
  }

  /** Listens to a server's events; returns a function that stops it. */
  attach(events: ServerEvents): () => void {
    const now = () => new Date().toISOString();
    const base = (info: SessionInfo) => ({
      time: now(),
      session: info.id,
      peer: info.remoteAddress,
      ...(info.user !== undefined ? { user: info.user } : {}),
    });
    const transfer = (event: 'upload' | 'download') => (info: TransferInfo) =>
      this.dispatch({ event, ...base(info), path: info.path, bytes: info.bytes, durationMs: info.durationMs, secure: info.secure });
    const listeners: ServerListeners = {
      upload: transfer('upload'),
      download: transfer('download'),
      delete: (info) =>
        this.dispatch({ event: 'delete', ...base(info), path: info.path, directory: info.directory }),
      rename: (info) =>
        this.dispatch({ event: 'rename', ...base(info), path: info.to, from: info.from, to: info.to }),
      mkdir: (info) => this.dispatch({ event: 'mkdir', ...base(info), path: info.path }),
      login: (info) => this.dispatch({ event: 'login', ...base(info) }),
      // A session that was logged in when it ended logged out.
      disconnect: (info) => {
        if (info.user !== undefined) this.dispatch({ event: 'logout', ...base(info) });
      },
    };
    const detach = listenTo(events, listeners);
    this.detachers.push(detach);
    return detach;
  }

  /** Queues the hooks and webhooks that want `e`. */
  dispatch(e: AutomationEvent): void {
    // Each hook and each webhook is a lane of its own; the user and path are for fair shares and drop logs.
    const who = { event: e.event, ...(e.user !== undefined ? { user: e.user } : {}), ...(e.path !== undefined ? { path: e.path } : {}) };
    this.hooks.forEach((hook, i) => {
      if (hook.event !== '*' && hook.event !== e.event) return;
      const env = { ...this.baseEnv, ...hookEnvironment(e) };
      this.queue.push({ kind: 'hook', ...who, target: hook.argv[0]!, lane: `hook ${i}`, attempt: (signal) => runHook(hook.argv, env, signal) });
    });
    this.webhooks.forEach((target, i) => {
      if (target.events && !target.events.has(e.event as HookEvent)) return;
      const id = newDeliveryId();
      this.queue.push({ kind: 'webhook', ...who, target: target.label, lane: `webhook ${i}`, attempt: (signal) => postWebhook(target, e, id, signal) });
    });
  }

  /** Stops listening and drains the queue until `deadlineMs`; resolves with the deliveries given up. */
  async close(deadlineMs: number): Promise<number> {
    const abandoned = await this.queue.drain(deadlineMs);
    for (const detach of this.detachers.splice(0)) detach();
    return abandoned;
  }
}
