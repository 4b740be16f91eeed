/**
 * The sessions of every worker, as the primary's admin console sees them (a SessionSource): a list asks
 * each listening worker over IPC and merges the answers, naming the workers that did not answer in time;
 * ending a session goes to the worker whose number starts its id (`2.Kx9a_Q3b`); changes are the
 * session snapshots the workers send anyway (worker.ts).
 */
import type { EndResult, SessionInfo, SessionListing, SessionSource } from '../runtime/session-directory.js';
import type { AdminRequests } from './admin-requests.js';

/** How long a list waits for the workers. */
export const LIST_TIMEOUT_MS = 2000;
/** How long ending a session may take (its client gets up to 1 s for the 421, then the close). */
export const END_TIMEOUT_MS = 5000;

export interface WorkerSet {
  /** Numbers (from 1) of the workers listening now. */
  listening(): number[];
  /** Sessions open on all workers, from their latest snapshots. */
  sessionCount(): number;
}

export class ClusterSessions implements SessionSource {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly workers: WorkerSet,
    private readonly requests: AdminRequests,
  ) {}

  async list(): Promise<SessionListing> {
    const asked = this.workers.listening();
    const answers = await this.requests.ask(asked, { kind: 'sessions' }, LIST_TIMEOUT_MS);
    const sessions: SessionInfo[] = [];
    const unavailable: string[] = [];
    for (const w of asked) {
      const a = answers.get(w);
      if (Array.isArray(a)) sessions.push(...(a.filter(isSession) as SessionInfo[]));
      else unavailable.push(`worker ${w}`);
    }
    sessions.sort((x, y) => x.since.localeCompare(y.since));
    return { sessions, unavailable };
  }

  async end(id: string, reason: string): Promise<EndResult> {
    const owner = /^(\d+)\./.exec(id)?.[1];
    const listening = this.workers.listening();
    const asked = owner === undefined ? listening : listening.filter((w) => w === Number(owner));
    if (asked.length === 0) return 'not-found';
    const answers = await this.requests.ask(asked, { kind: 'end', session: id, reason }, END_TIMEOUT_MS);
    if ([...answers.values()].includes('ended')) return 'ended';
    return answers.size < asked.length ? 'unavailable' : 'not-found';
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  active(): boolean {
    return this.workers.sessionCount() > 0;
  }

  /** A worker's sessions changed (its snapshot came in). */
  changed(): void {
    for (const l of this.listeners) l();
  }
}

function isSession(v: unknown): boolean {
  const s = v as Partial<SessionInfo> | null;
  return typeof s === 'object' && s !== null && typeof s.id === 'string' && typeof s.since === 'string' && typeof s.bytes === 'object' && s.bytes !== null;
}
