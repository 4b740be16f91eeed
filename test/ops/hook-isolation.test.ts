/**
 * Issue 21 item 8: hooks that could be starved or hang.
 *  - A hook that forks a sleeping child: on timeout only the direct child was signalled, the child kept
 *    the output pipe open and the slot (and the drain at shutdown) busy for its whole life. Now the
 *    process group is ended.
 *  - One user's flood filled the shared queue and another user's upload hook was dropped, with a log
 *    line naming neither. Now each user has a fair share of a target's queue, and every drop is logged
 *    with user, event and path and counted.
 *  - A webhook that never answers held the shared slots, so hooks stopped running. Now each target has
 *    its own lane.
 */
import { readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Automation } from '../../src/ops/automation.js';
import { runHook } from '../../src/ops/hooks.js';
import { FtpMetrics } from '../../src/ops/metrics.js';
import { ServerEvents } from '../../src/events.js';
import { event, readLines, receiver, runCleanups } from './automation-helpers.js';
import { eventually } from './helpers.js';
import { captureLog } from '../helpers/log-capture.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ftpsd-hook-iso-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(runCleanups);

/** A shell hook that starts `sleep 30` in the background (its pid in `pidFile`), then `then`. */
const forking = (pidFile: string, then: 'wait' | 'exit 0') => ['/bin/sh', '-c', `sleep 30 & echo $! > "$0"; ${then}`, pidFile];

/**
 * Running (not gone, not a zombie waiting to be reaped). ftpsd reaps the hook program itself; a child it
 * orphaned is reaped by init (PID 1, or a container's --init), which ftpsd cannot stand in for.
 */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

async function grandchild(pidFile: string): Promise<number> {
  await eventually(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 10_000, 'the grandchild pid');
  return Number((await readFile(pidFile, 'utf8')).trim());
}

describe('hooks run in their own process group', () => {
  it('a timeout ends the hook and the sleeping child it forked, at once', async () => {
    const pidFile = join(dir, 'timeout.pid');
    const started = Date.now();
    const outcome = runHook(forking(pidFile, 'wait'), {}, AbortSignal.timeout(300)).then(
      () => 'resolved',
      (err: Error) => err.message,
    );
    const pid = await grandchild(pidFile);
    expect(await outcome).toMatch(/killed by SIGTERM/);
    expect(Date.now() - started).toBeLessThan(5000);
    await eventually(() => !running(pid), 5000, 'the grandchild to be gone');
  });

  it('a hook that exits leaving a child holding its output settles, and the child is ended', async () => {
    const pidFile = join(dir, 'exit.pid');
    const started = Date.now();
    await runHook(forking(pidFile, 'exit 0'), {}, new AbortController().signal);
    expect(Date.now() - started).toBeLessThan(5000);
    const pid = await grandchild(pidFile);
    await eventually(() => !running(pid), 5000, 'the grandchild to be gone');
  });

  it('shutdown is not held up by a hook child: the drain keeps its deadline', async () => {
    const pidFile = join(dir, 'drain.pid');
    const automation = new Automation({ hooks: [{ event: 'login', argv: forking(pidFile, 'wait') }], delivery: { timeoutMs: 60_000 } });
    automation.dispatch(event('login'));
    const pid = await grandchild(pidFile);
    const started = Date.now();
    expect(await automation.close(500)).toBe(1);
    // The deadline, then SIGTERM to the group: well under the child's 30 s.
    expect(Date.now() - started).toBeLessThan(4000);
    await eventually(() => !running(pid), 5000, 'the grandchild to be gone');
  });
});

describe('fair shares and drops', () => {
  it("one user's flood never pushes out another user's upload hook; every drop is logged with user, event, path and counted", async () => {
    const out = join(dir, 'fair.log');
    const log = captureLog('warn');
    const record = ['/bin/sh', '-c', 'echo "$FTPSD_USER $FTPSD_PATH" >> "$0"', out];
    const automation = new Automation({ hooks: [{ event: 'upload', argv: record }], delivery: { queueSize: 10, concurrency: 1 }, logger: log.logger });
    const events = new ServerEvents();
    const metrics = new FtpMetrics({ events, sessions: { size: 0 } }, { deliveries: automation.queue });
    // 100 empty uploads by mallory arrive at once (one runs, ten wait), then bob's.
    for (let i = 0; i < 100; i++) automation.dispatch(event('upload', { user: 'mallory', path: `/flood/${i}` }));
    automation.dispatch(event('upload', { user: 'bob', path: '/bob/report.pdf' }));
    await automation.queue.idle();
    const ran = await readLines(out);
    expect(ran).toContain('bob /bob/report.pdf');
    expect(ran).toHaveLength(11);

    const drops = log.lines().filter((l) => String(l.msg).startsWith('event delivery dropped'));
    expect(drops).toHaveLength(90);
    for (const d of drops) expect(d).toMatchObject({ kind: 'hook', event: 'upload', user: 'mallory' });
    // Each names its file: 89 that did not fit, and mallory's newest queued one, pushed out for bob's.
    expect(new Set(drops.map((d) => d.path)).size).toBe(90);
    expect(drops.filter((d) => d.reason === 'pushed-out').map((d) => d.path)).toEqual(['/flood/10']);
    const text = await metrics.metrics();
    expect(text).toContain('ftpsd_event_deliveries_dropped_total{kind="hook",event="upload",reason="queue-full"} 89');
    expect(text).toContain('ftpsd_event_deliveries_dropped_total{kind="hook",event="upload",reason="pushed-out"} 1');
    expect(text).toContain('ftpsd_event_deliveries_total{kind="hook",result="dropped"} 90');
    metrics.detach();
    await automation.close(1000);
  });

  it('a webhook that never answers does not starve the hooks', async () => {
    const hang = await receiver();
    hang.hold = true;
    const out = join(dir, 'beside-webhook.log');
    const record = ['/bin/sh', '-c', 'echo "$FTPSD_PATH" >> "$0"', out];
    const automation = new Automation({
      hooks: [{ event: 'upload', argv: record }],
      webhooks: [hang.url],
      delivery: { concurrency: 1, timeoutMs: 60_000 },
    });
    for (let i = 0; i < 5; i++) {
      automation.dispatch(event('upload', { path: `/f${i}` }));
      await eventually(async () => (await readLines(out)).length === i + 1, 10_000, `hook ${i} to run beside the hanging webhook`);
    }
    expect(hang.received.length).toBe(1); // the webhook's one slot is still stuck on the first request
    expect(automation.queue.active).toBe(1);
    expect(automation.queue.pending).toBe(4);
    await automation.close(0);
  });
});
