/**
 * Requests of the primary's admin console to its workers (`admin` messages) and their answers
 * (`admin-reply`), matched by id. Each ask names the workers it goes to and resolves, at the latest
 * after its timeout, with the answers it got: a worker that does not answer (stopped, stuck, gone) is
 * simply missing from them, never waited on for longer.
 */
import type { AdminOp, PrimaryMessage } from './messages.js';

interface Open {
  answers: Map<number, unknown>;
  waiting: Set<number>;
  done: () => void;
}

export class AdminRequests {
  private next = 1;
  private readonly open = new Map<number, Open>();

  /** `send(worker, message)` returns false when the worker cannot be reached (it then counts as silent). */
  constructor(private readonly send: (worker: number, message: PrimaryMessage) => boolean) {}

  /** Asks `workers` (numbers from 1); resolves with the answers by worker within `timeoutMs`. */
  ask(workers: readonly number[], op: AdminOp, timeoutMs: number): Promise<Map<number, unknown>> {
    const id = this.next++;
    return new Promise((resolve) => {
      const answers = new Map<number, unknown>();
      const waiting = new Set<number>();
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.open.delete(id);
        resolve(answers);
      };
      this.open.set(id, { answers, waiting, done });
      for (const w of workers) if (this.send(w, { ftpsd: 1, type: 'admin', id, op })) waiting.add(w);
      if (waiting.size === 0) return done();
      timer = setTimeout(done, timeoutMs);
      timer.unref();
    });
  }

  /** Worker `worker`'s answer to request `id` (unknown or late ones are dropped). */
  answer(worker: number, id: unknown, result: unknown): void {
    const entry = typeof id === 'number' ? this.open.get(id) : undefined;
    if (!entry || !entry.waiting.delete(worker)) return;
    entry.answers.set(worker, result);
    if (entry.waiting.size === 0) entry.done();
  }
}
