/**
 * `/metrics` in cluster mode, served by the primary: each scrape asks every running worker for its
 * registry (as JSON) and serves their aggregate (prom-client's AggregatorRegistry: counters, histograms
 * and session gauges summed; `ftpsd_up` the minimum). A worker that does not answer within the timeout
 * is left out of that scrape (and its counters restart from 0 when a crashed worker is replaced).
 */
import { AggregatorRegistry, Registry } from 'prom-client';
import type { MetricsView } from '../ops/metrics-endpoint.js';

export class ClusterMetrics implements MetricsView {
  /** Set once the cluster began to shut down (`/healthz` answers 503). */
  shuttingDown = false;
  readonly contentType = new Registry().contentType;

  /** `collect` resolves with the workers' `getMetricsAsJSON()` results. */
  constructor(private readonly collect: () => Promise<unknown[]>) {}

  async metrics(): Promise<string> {
    const parts = (await this.collect()).filter((p): p is object[] => Array.isArray(p) && p.length > 0);
    if (parts.length === 0) throw new Error('no worker answered');
    return AggregatorRegistry.aggregate(parts).metrics();
  }
}

/** Requests to the workers and their answers, matched by id. */
export class MetricsRequests {
  private next = 1;
  private readonly open = new Map<number, { answers: unknown[]; expected: number; done: () => void }>();

  /** Sends a request through `send` (which returns how many workers it reached); resolves with the answers. */
  ask(send: (id: number) => number, timeoutMs = 3000): Promise<unknown[]> {
    const id = this.next++;
    return new Promise((resolve) => {
      const answers: unknown[] = [];
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.open.delete(id);
        resolve(answers);
      };
      this.open.set(id, { answers, expected: 0, done });
      const expected = send(id);
      const entry = this.open.get(id)!;
      entry.expected = expected;
      if (expected === 0) return done();
      timer = setTimeout(done, timeoutMs);
    });
  }

  /** A worker's answer to request `id`. */
  answer(id: unknown, metrics: unknown): void {
    const entry = typeof id === 'number' ? this.open.get(id) : undefined;
    if (!entry) return;
    entry.answers.push(metrics);
    if (entry.answers.length >= entry.expected) entry.done();
  }
}
