/**
 * The grow/retire decision of workers on demand (src/cluster/worker-scaler.ts), fed with reports as the
 * workers send them; the real processes are in test/cli/workers-on-demand.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { GROW_COOLDOWN_MS, GROW_ELU, RETIRE_IDLE_MS, WorkerScaler, retireIdleMs } from '../../src/cluster/worker-scaler.js';

describe('WorkerScaler', () => {
  it('grows when the running workers are busy on average, up to the most', () => {
    const s = new WorkerScaler(2);
    s.report(0, 0.3, 5, 1000);
    expect(s.decide([0], false, 1000)).toEqual({ kind: 'hold' });
    s.report(0, 0.9, 5, 2000);
    expect(s.meanElu([0], 2000)).toBeCloseTo(0.6);
    expect(s.decide([0], false, 2000)).toEqual({ kind: 'grow' });
    // Not while a worker starts, nor within the cooldown after a change, nor beyond the most.
    expect(s.decide([0], true, 2000)).toEqual({ kind: 'hold' });
    s.changed(2000);
    expect(s.decide([0], false, 2000 + GROW_COOLDOWN_MS - 1)).toEqual({ kind: 'hold' });
    s.report(0, 0.9, 5, 3500);
    s.report(1, 0.9, 5, 4100);
    expect(s.decide([0, 1], false, 4100)).toEqual({ kind: 'hold' });
  });

  it('holds at a mean of the threshold or below, and when a worker has not reported lately', () => {
    const s = new WorkerScaler(4);
    s.report(0, GROW_ELU, 1, 1000);
    expect(s.decide([0], false, 1000)).toEqual({ kind: 'hold' });
    s.report(0, 1, 1, 2000);
    s.report(1, 0, 1, 2000);
    s.report(1, 0, 1, 1500);
    expect(s.decide([0, 1], false, 2000)).toEqual({ kind: 'hold' });
    // Worker 1 silent for the window: no decision on half the picture.
    s.report(0, 1, 1, 5000);
    expect(s.meanElu([0, 1], 5000)).toBeUndefined();
    expect(s.decide([0, 1], false, 5000)).toEqual({ kind: 'hold' });
  });

  it('retires an added worker idle (no session, none accepted) for the idle time, the highest first, never the first slot', () => {
    const s = new WorkerScaler(3, 10_000);
    s.report(0, 0, 0, 0);
    s.report(1, 0, 0, 0);
    s.report(2, 0, 2, 0);
    expect(s.decide([0, 1, 2], false, 9_999)).toEqual({ kind: 'hold' });
    s.report(2, 0, 0, 1000);
    expect(s.decide([0, 1, 2], false, 10_000)).toEqual({ kind: 'retire', slot: 1 });
    expect(s.decide([0, 1, 2], false, 11_000)).toEqual({ kind: 'retire', slot: 2 });
    // A session (or a connection accepted since the last report, reported as one) starts the idle time again.
    s.report(2, 0, 1, 11_500);
    s.report(2, 0, 0, 12_000);
    expect(s.decide([0, 2], false, 21_999)).toEqual({ kind: 'hold' });
    expect(s.decide([0, 2], false, 22_000)).toEqual({ kind: 'retire', slot: 2 });
    // The first slot alone is never retired, however idle.
    expect(s.decide([0], false, 1e9)).toEqual({ kind: 'hold' });
  });

  it('forgets a gone worker', () => {
    const s = new WorkerScaler(2, 1000);
    s.report(1, 0, 0, 0);
    s.changed(0, 1);
    expect(s.decide([0, 1], false, 5000)).toEqual({ kind: 'hold' });
  });

  it('reads the idle time from the test hook FTPSD_TEST_RETIRE_IDLE_MS', () => {
    expect(retireIdleMs({})).toBe(RETIRE_IDLE_MS);
    expect(retireIdleMs({ FTPSD_TEST_RETIRE_IDLE_MS: '1500' })).toBe(1500);
    expect(retireIdleMs({ FTPSD_TEST_RETIRE_IDLE_MS: '5' })).toBe(RETIRE_IDLE_MS);
    expect(retireIdleMs({ FTPSD_TEST_RETIRE_IDLE_MS: 'x' })).toBe(RETIRE_IDLE_MS);
  });
});
