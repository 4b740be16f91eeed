/**
 * The sessions of the other nodes on the same user database (userdb/session-registry.ts; each node
 * publishes its own every two seconds, runtime/node-sessions.ts): the console lists them after its own
 * (each with its `node`), and ends one by asking its node through NOTIFY, then waits (at most
 * END_WAIT_MS) for that node to drop it from the list. `withOtherNodes` puts them behind this node's
 * SessionSource (runtime/session-directory.ts), so the routes and the live feed see one list; each read
 * of it reads the table afresh. The database down: only this node's sessions.
 */
import type { Logger } from '../logger.js';
import type { SessionInfo, SessionSource } from '../runtime/session-directory.js';
import { PUBLISH_EVERY_MS, type SessionRegistry } from '../userdb/session-registry.js';
import { fromDb, HttpProblem } from './http.js';

/** How long DELETE waits for the other node to end the session. */
export const END_WAIT_MS = 5_000;

export class OtherNodes {
  private cached: Record<string, unknown>[] = [];
  private readonly timer: NodeJS.Timeout;
  private lastWarning = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly registry: SessionRegistry,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.refresh(), PUBLISH_EVERY_MS);
    this.timer.unref();
  }

  /** Calls `listener` when the other nodes' sessions changed; returns what stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The last copy read (for the live events). */
  get sessions(): Record<string, unknown>[] {
    return this.cached;
  }

  /** This node's sessions, then the other nodes' (read now); a session id listed here is not repeated. */
  async withLocal(local: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
    await this.refresh();
    return merge(local, this.cached);
  }

  /** The live-event view: this node's sessions and the last copy of the others'. */
  view(local: Record<string, unknown>[]): Record<string, unknown>[] {
    return merge(local, this.cached);
  }

  private async refresh(): Promise<void> {
    try {
      const rows = await this.registry.others();
      const before = JSON.stringify(this.cached);
      this.cached = rows;
      if (JSON.stringify(rows) !== before) for (const l of this.listeners) l();
    } catch (err) {
      this.cached = [];
      if (Date.now() - this.lastWarning < 60_000) return;
      this.lastWarning = Date.now();
      this.log.warn({ err }, 'admin console: the other nodes\' sessions cannot be read (user database unreachable)');
    }
  }

  /**
   * Ends session `id` on the node that holds it; resolves to its row as listed (for the audit log), or
   * undefined when no other node holds it. A 504 when the node did not end it within END_WAIT_MS.
   */
  async end(id: string, before: (row: Record<string, unknown>) => void): Promise<Record<string, unknown> | undefined> {
    const node = await fromDb(this.registry.nodeOf(id));
    if (node === undefined) return undefined;
    const row = this.cached.find((r) => r.id === id && r.node === node) ?? { id, node };
    before(row);
    await fromDb(this.registry.requestEnd(node, id));
    const deadline = Date.now() + END_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      if (!(await fromDb(this.registry.listed(node, id)))) {
        void this.refresh();
        return row;
      }
    }
    throw new HttpProblem(504, 'Gateway Timeout', `node ${node} did not end the session within ${END_WAIT_MS / 1000} s`);
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function merge(local: Record<string, unknown>[], others: Record<string, unknown>[]): Record<string, unknown>[] {
  const ids = new Set(local.map((s) => s.id));
  return [...local, ...others.filter((s) => !ids.has(s.id))];
}

/** This node's sessions (`local`: of one process, or of every worker) and the other nodes', as one source. */
export function withOtherNodes(local: SessionSource, nodes: OtherNodes): SessionSource {
  return {
    async list() {
      const mine = await local.list();
      const all = await nodes.withLocal(mine.sessions as unknown as Record<string, unknown>[]);
      return { sessions: all as unknown as SessionInfo[], unavailable: mine.unavailable };
    },
    async end(id, reason) {
      const result = await local.end(id, reason);
      if (result !== 'not-found') return result;
      try {
        return (await nodes.end(id, () => undefined)) ? 'ended' : 'not-found';
      } catch (err) {
        if (err instanceof HttpProblem && err.status === 504) return 'unavailable';
        throw err;
      }
    },
    onChange(listener) {
      const stops = [local.onChange(listener), nodes.onChange(listener)];
      return () => stops.forEach((stop) => stop());
    },
    active: () => (local.active?.() ?? true) || nodes.sessions.length > 0,
  };
}
