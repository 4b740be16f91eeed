/**
 * Hooks and webhooks: what a hook program and a webhook receiver are told, that neither can hold up a
 * transfer, retries with backoff, timeouts, the bounded queue, and the drain at shutdown.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Automation, type AutomationOptions } from '../../src/ops/automation.js';
import { parseHook, splitCommand, type AutomationEvent } from '../../src/ops/hooks.js';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { eventually, sessionsGone } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ftpsd-hooks-'));
  // Appends one JSON line per run: its FTPSD_* variables (and whether FTPSD_PASSWORD leaked).
  await writeFile(
    join(dir, 'record.mjs'),
    `import { appendFileSync } from 'node:fs';
const vars = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FTPSD_')));
appendFileSync(process.argv[2], JSON.stringify({ vars, args: process.argv.slice(3), home: process.env.HOME_MARKER }) + '\\n');
`,
  );
  // Fails (exit 1) until it has run N times; counts runs in a file.
  await writeFile(
    join(dir, 'flaky.mjs'),
    `import { appendFileSync, readFileSync } from 'node:fs';
appendFileSync(process.argv[2], 'run\\n');
const runs = readFileSync(process.argv[2], 'utf8').split('\\n').filter(Boolean).length;
if (runs < Number(process.argv[3])) { console.error('not yet: run ' + runs); process.exit(1); }
`,
  );
  // Writes "started" (with its pid), waits for a release file, then writes "done".
  await writeFile(
    join(dir, 'gate.mjs'),
    `import { writeFileSync, existsSync } from 'node:fs';
writeFileSync(process.argv[2] + '.started', String(process.pid));
const t = setInterval(() => { if (existsSync(process.argv[2] + '.release')) { writeFileSync(process.argv[2] + '.done', ''); clearInterval(t); } }, 10);
`,
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serverWith(options: AutomationOptions): Promise<{ t: TestServer; automation: Automation }> {
  const t = await startServer({ anonymous: true });
  const automation = new Automation(options);
  automation.attach(t.server.events);
  cleanups.push(async () => {
    await t.close();
    await automation.close(0);
  });
  return { t, automation };
}

const node = (script: string, ...args: string[]) => [process.execPath, join(dir, script), ...args];
const readLines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

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

interface Received {
  headers: IncomingMessage['headers'];
  body: AutomationEvent;
  url: string;
}

/** A loopback webhook receiver: answers with `status()` (or holds the request while `hold` is set). */
async function receiver(status: (n: number) => number = () => 200): Promise<{
  url: string;
  received: Received[];
  held: ServerResponse[];
  hold: boolean;
  server: Server;
}> {
  const state = { url: '', received: [] as Received[], held: [] as ServerResponse[], hold: false, server: undefined as unknown as Server };
  state.server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      state.received.push({ headers: req.headers, body: JSON.parse(body) as AutomationEvent, url: req.url ?? '' });
      if (state.hold) state.held.push(res);
      else res.writeHead(status(state.received.length)).end();
    });
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', () => r()));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    for (const res of state.held) res.destroy();
    state.server.closeAllConnections();
    await new Promise((r) => state.server.close(r));
  });
  return state;
}

function event(name: AutomationEvent['event'], extra: Partial<AutomationEvent> = {}): AutomationEvent {
  return { event: name, time: new Date().toISOString(), session: 's1', user: 'alice', peer: '127.0.0.1', ...extra };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('webhooks', () => {
  it('POST each event as JSON, retrying a 5xx with the same delivery id', async () => {
    const r = await receiver((n) => (n === 1 ? 503 : 200));
    const { t, automation } = await serverWith({ webhooks: [`${r.url.replace('http://', 'http://hook%20user:s3cr%3At@')}/ftpsd?x=1`], delivery: { retryDelayMs: 10, concurrency: 1 } });
    const c = await loggedIn(t, { binary: true });
    await upload(c, 'STOR w.bin', Buffer.alloc(1234));
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    await automation.queue.idle();
    // A retry waits its delay while later events go ahead: deliveries are not ordered.
    const events = r.received.map((x) => x.body.event);
    expect([...events].sort()).toEqual(['login', 'login', 'logout', 'upload']);
    const [first, retry] = r.received.filter((x) => x.body.event === 'login');
    const up = r.received.find((x) => x.body.event === 'upload');
    expect(r.received[0]!.body.event).toBe('login');
    expect(first!.headers['x-ftpsd-delivery']).toBe(retry!.headers['x-ftpsd-delivery']);
    expect(first!.body).toEqual(retry!.body);
    expect(up!.headers['x-ftpsd-delivery']).not.toBe(first!.headers['x-ftpsd-delivery']);
    expect(up!.url).toBe('/ftpsd?x=1');
    expect(up!.headers['content-type']).toBe('application/json');
    expect(up!.headers['x-ftpsd-event']).toBe('upload');
    expect(up!.headers.authorization).toBe('Basic ' + Buffer.from('hook user:s3cr:t').toString('base64'));
    expect(up!.body).toMatchObject({ event: 'upload', user: USER, peer: '127.0.0.1', path: '/w.bin', bytes: 1234, secure: false });
    expect(up!.body.session).toBe(first!.body.session);
    expect(typeof up!.body.durationMs).toBe('number');
    expect(new Date(up!.body.time).getTime()).not.toBeNaN();
    expect(JSON.stringify(r.received.map((x) => x.body))).not.toContain(PASS);
  });

  it('send only the events a webhook asks for', async () => {
    const r = await receiver();
    const { t, automation } = await serverWith({ webhooks: [{ url: r.url, events: ['delete', 'rename'] }] });
    const c = await loggedIn(t);
    await upload(c, 'STOR f.txt', 'x');
    await c.expectCmd('DELE f.txt', 250);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    await automation.queue.idle();
    expect(r.received.map((x) => x.body)).toEqual([expect.objectContaining({ event: 'delete', path: '/f.txt', directory: false })]);
  });

  it('do not retry a 4xx answer', async () => {
    const r = await receiver(() => 400);
    const automation = new Automation({ webhooks: [r.url], delivery: { retries: 3, retryDelayMs: 1 } });
    const failed = new Promise<{ attempts: number; error: string }>((resolve) => automation.queue.once('failed', (_d, x) => resolve(x)));
    automation.dispatch(event('login'));
    expect(await failed).toEqual({ attempts: 1, error: 'HTTP 400' });
    expect(r.received).toHaveLength(1);
    await automation.close(0);
  });

  it('time out an attempt that gets no answer, and retry it', async () => {
    const r = await receiver((n) => 200 + n);
    r.hold = true;
    const automation = new Automation({ webhooks: [r.url], delivery: { retries: 1, retryDelayMs: 1, timeoutMs: 200 } });
    const retried = new Promise<string>((resolve) => automation.queue.once('retry', (_d, x) => resolve(x.error)));
    automation.dispatch(event('login'));
    expect(await retried).toBe('timed out after 200 ms');
    r.hold = false;
    await automation.queue.idle();
    expect(r.received).toHaveLength(2);
    await automation.close(0);
  });

  it('drop deliveries when the queue is full, and count them', async () => {
    const r = await receiver();
    r.hold = true;
    const automation = new Automation({ webhooks: [r.url], delivery: { queueSize: 2, concurrency: 1 } });
    let dropped = 0;
    automation.queue.on('dropped', () => dropped++);
    for (let i = 0; i < 5; i++) automation.dispatch(event('upload', { path: `/${i}` }));
    // One running, two waiting, two dropped: pushing never waits.
    expect(dropped).toBe(2);
    expect(automation.queue.pending).toBe(2);
    await eventually(() => r.held.length === 1, 10_000, 'the first request');
    r.hold = false;
    for (const res of r.held.splice(0)) res.writeHead(200).end();
    await automation.queue.idle();
    expect(r.received.map((x) => x.body.path)).toEqual(['/0', '/1', '/2']);
    await automation.close(0);
  });

  it('drain at shutdown: finish what is queued, abandon what is left at the deadline', async () => {
    const r = await receiver();
    const automation = new Automation({ webhooks: [r.url], delivery: { concurrency: 1, retryDelayMs: 60_000 } });
    for (let i = 0; i < 3; i++) automation.dispatch(event('upload', { path: `/${i}` }));
    expect(await automation.close(10_000)).toBe(0);
    expect(r.received).toHaveLength(3);

    const slow = await receiver();
    slow.hold = true;
    const late = new Automation({ webhooks: [slow.url], delivery: { concurrency: 1 } });
    let failed = 0;
    late.queue.on('failed', () => failed++);
    late.dispatch(event('upload'));
    late.dispatch(event('download'));
    expect(await late.close(200)).toBe(2);
    expect(failed).toBe(2);
    // After the drain nothing more is taken.
    late.dispatch(event('login'));
    expect(late.queue.pending).toBe(0);
  });

  it('refuse URLs that are not http(s)', () => {
    expect(() => new Automation({ webhooks: ['ftp://example.test/'] })).toThrow(/http/);
    expect(() => new Automation({ webhooks: ['not a url'] })).toThrow(/http/);
    expect(() => new Automation({ webhooks: [{ url: 'https://example.test/', events: ['nope' as never] }] })).toThrow(/unknown event/);
  });
});
