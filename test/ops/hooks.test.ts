/**
 * Hooks: what a hook program is told (FTPSD_* variables, never a password), filters by event, that a hook
 * never holds up a transfer, retries with backoff, timeouts, and parsing EVENT=COMMAND without a shell.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Automation } from '../../src/ops/automation.js';
import { parseHook, splitCommand } from '../../src/ops/hooks.js';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER } from '../helpers/server.js';
import { alive, event, hookScripts, readLines, runCleanups, serverWith } from './automation-helpers.js';
import { eventually, sessionsGone } from './helpers.js';
let dir: string;
beforeAll(async () => {
  dir = await hookScripts();
});
afterAll(() => rm(dir, { recursive: true, force: true }));
afterEach(runCleanups);

const node = (script: string, ...args: string[]) => [process.execPath, join(dir, script), ...args];

describe('hooks', () => {
  it('run a program per event with the event in FTPSD_* variables, never a password', async () => {
    const out = join(dir, 'events.jsonl');
    const { t } = await serverWith({
      hooks: [{ event: '*', argv: node('record.mjs', out, 'fixed arg', '$FTPSD_PATH') }],
      delivery: { concurrency: 1 },
      env: { ...process.env, FTPSD_PASSWORD: 'leak-me-not', FTPSD_ROOT: '/srv', HOME_MARKER: 'inherited' },
    });
    const c = await loggedIn(t, { binary: true });
    await c.expectCmd('MKD new dir', 257);
    await upload(c, 'STOR new dir/a file.bin', 'hello');
    await download(c, 'RETR new dir/a file.bin');
    await c.expectCmd('RNFR new dir/a file.bin', 350);
    await c.expectCmd('RNTO new dir/b.bin', 250);
    await c.expectCmd('DELE new dir/b.bin', 250);
    await c.expectCmd('RMD new dir', 250);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    await eventually(async () => (await readLines(out)).length === 8, 15_000, '8 hook runs');
    const runs = (await readLines(out)).map((l) => JSON.parse(l) as { vars: Record<string, string>; args: string[]; home: string });
    expect(runs.map((r) => r.vars.FTPSD_EVENT)).toEqual(['login', 'mkdir', 'upload', 'download', 'rename', 'delete', 'delete', 'logout']);
    const [login, mkdir, up, down, rename, dele, rmd, logout] = runs;
    for (const r of runs) {
      expect(r.vars.FTPSD_USER).toBe(USER);
      expect(r.vars.FTPSD_PEER).toBe('127.0.0.1');
      expect(r.vars.FTPSD_SESSION).toBe(login!.vars.FTPSD_SESSION);
      expect(r.vars.FTPSD_TIME).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      // Fixed arguments, passed verbatim: no shell, no expansion.
      expect(r.args).toEqual(['fixed arg', '$FTPSD_PATH']);
      // ftpsd's own FTPSD_* settings are not inherited; the rest of its environment is.
      expect(r.vars.FTPSD_PASSWORD).toBeUndefined();
      expect(r.vars.FTPSD_ROOT).toBeUndefined();
      expect(r.home).toBe('inherited');
    }
    expect(login!.vars.FTPSD_PATH).toBeUndefined();
    expect(mkdir!.vars.FTPSD_PATH).toBe('/new dir');
    expect(up!.vars).toMatchObject({ FTPSD_PATH: '/new dir/a file.bin', FTPSD_BYTES: '5', FTPSD_SECURE: '0' });
    expect(Number(up!.vars.FTPSD_DURATION_MS)).toBeGreaterThanOrEqual(0);
    expect(down!.vars).toMatchObject({ FTPSD_PATH: '/new dir/a file.bin', FTPSD_BYTES: '5' });
    expect(rename!.vars).toMatchObject({ FTPSD_FROM: '/new dir/a file.bin', FTPSD_TO: '/new dir/b.bin', FTPSD_PATH: '/new dir/b.bin' });
    expect(dele!.vars).toMatchObject({ FTPSD_PATH: '/new dir/b.bin', FTPSD_DIRECTORY: '0' });
    expect(rmd!.vars).toMatchObject({ FTPSD_PATH: '/new dir', FTPSD_DIRECTORY: '1' });
    expect(logout!.vars.FTPSD_PATH).toBeUndefined();
    const raw = await readFile(out, 'utf8');
    expect(raw).not.toContain(PASS);
    expect(raw).not.toContain('leak-me-not');
  });

  it('filter by event, and a session that never logged in has no logout', async () => {
    const out = join(dir, 'uploads-only.jsonl');
    const command = node('record.mjs', out).map((w) => `'${w}'`).join(' ');
    const { t, automation } = await serverWith({ hooks: [parseHook(`upload=${command}`), parseHook(`logout=${command}`)] });
    const c = await loggedIn(t);
    await upload(c, 'STOR one.txt', '1');
    await download(c, 'RETR one.txt');
    await upload(c, 'STOR two.txt', '22');
    await c.expectCmd('QUIT', 221);
    const stranger = await RawClient.connect(t.port, t.host);
    await stranger.expectCmd('USER nobody', 331);
    await stranger.expectCmd('PASS x', 530);
    await stranger.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    await automation.queue.idle();
    const runs = (await readLines(out)).map((l) => JSON.parse(l) as { vars: Record<string, string> });
    expect(runs.map((r) => `${r.vars.FTPSD_EVENT} ${r.vars.FTPSD_PATH ?? r.vars.FTPSD_USER}`).sort()).toEqual([
      `logout ${USER}`,
      'upload /one.txt',
      'upload /two.txt',
    ]);
  });

  it('never hold up a transfer: the 226 comes while the hook still runs', async () => {
    const gate = join(dir, 'gate-1');
    const { t, automation } = await serverWith({ hooks: [{ event: 'upload', argv: node('gate.mjs', gate) }] });
    const c = await loggedIn(t);
    await upload(c, 'STOR held.txt', 'data');
    await eventually(() => existsSync(`${gate}.started`), 15_000, 'the hook to start');
    expect(existsSync(`${gate}.done`)).toBe(false);
    // The session goes on meanwhile.
    await upload(c, 'STOR second.txt', 'more');
    expect(automation.queue.active + automation.queue.pending).toBeGreaterThanOrEqual(1);
    await writeFile(`${gate}.release`, '');
    await eventually(() => existsSync(`${gate}.done`), 15_000, 'the hook to finish');
    c.close();
  });

  it('retry a failing program with backoff until it succeeds', async () => {
    const runs = join(dir, 'flaky-runs');
    const automation = new Automation({ hooks: [{ event: 'login', argv: node('flaky.mjs', runs, '3') }], delivery: { retries: 3, retryDelayMs: 20 } });
    const seen: string[] = [];
    automation.queue.on('retry', (_d, r) => seen.push(`retry ${r.attempt}: ${r.error}`));
    const delivered = new Promise<number>((resolve) => automation.queue.once('delivered', (_d, r) => resolve(r.attempts)));
    automation.dispatch(event('login'));
    expect(await delivered).toBe(3);
    expect(seen).toEqual(['retry 1: exit code 1: not yet: run 1', 'retry 2: exit code 1: not yet: run 2']);
    expect(await readLines(runs)).toHaveLength(3);
    await automation.close(1000);
  });

  it('give up after the retries, and kill a program that runs past the timeout', async () => {
    const gate = join(dir, 'gate-timeout');
    const automation = new Automation({ hooks: [{ event: 'login', argv: node('gate.mjs', gate) }], delivery: { retries: 1, retryDelayMs: 10, timeoutMs: 2000 } });
    const failed = new Promise<{ attempts: number; error: string }>((resolve) => automation.queue.once('failed', (_d, r) => resolve(r)));
    automation.dispatch(event('login'));
    const result = await failed;
    expect(result).toEqual({ attempts: 2, error: 'timed out after 2000 ms' });
    const pid = Number(await readFile(`${gate}.started`, 'utf8'));
    await eventually(() => !alive(pid), 10_000, 'the hook process to be killed');
    await automation.close(1000);
  });

  it('do not retry a program that cannot be started', async () => {
    const automation = new Automation({ hooks: [{ event: 'login', argv: [join(dir, 'no-such-program')] }], delivery: { retries: 5, retryDelayMs: 1 } });
    let retries = 0;
    automation.queue.on('retry', () => retries++);
    const failed = new Promise<{ attempts: number; error: string }>((resolve) => automation.queue.once('failed', (_d, r) => resolve(r)));
    automation.dispatch(event('login'));
    expect(await failed).toMatchObject({ attempts: 1, error: expect.stringMatching(/ENOENT/) });
    expect(retries).toBe(0);
    await automation.close(0);
  });

  it('parse EVENT=COMMAND without a shell', () => {
    expect(parseHook('upload=/usr/bin/scan --dir "/srv/in box" \'$HOME\' a\\ b')).toEqual({
      event: 'upload',
      argv: ['/usr/bin/scan', '--dir', '/srv/in box', '$HOME', 'a b'],
    });
    expect(splitCommand('a "" b')).toEqual(['a', '', 'b']);
    expect(() => parseHook('uplod=/bin/true')).toThrow(/unknown event "uplod"/);
    expect(() => parseHook('/bin/true')).toThrow(/EVENT=COMMAND/);
    expect(() => parseHook('upload=')).toThrow(/empty/);
    expect(() => parseHook('upload=/bin/x "open')).toThrow(/unclosed/);
  });
});
