/**
 * `ftpsd serve` with the operations flags, as a real process: the metrics line in the banner, the
 * transfer log and its reopening on SIGUSR1, hooks, webhooks drained at SIGTERM, and the log formats
 * (JSON when piped, pretty on a real terminal).
 */
import { execFile, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, Served, assertBuilt, cleanEnv, curl, killAll, loopbackArgs, removeTempDirs, tempDir } from '../cli/cli.js';
import { eventually, httpGet, parseMetrics } from './helpers.js';
import { bannerText } from '../helpers/banner-text.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

/** A loopback webhook receiver. */
async function receiver(): Promise<{ url: string; bodies: Record<string, unknown>[]; server: Server }> {
  const bodies: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      bodies.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

describe('ftpsd serve: operations', () => {
  it('serves metrics, writes the xferlog (reopened on SIGUSR1), runs hooks and drains webhooks at SIGTERM', async () => {
    const dir = await tempDir();
    const hookOut = join(dir, 'hook.jsonl');
    await writeFile(
      join(dir, 'hook.mjs'),
      `import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(hookOut)}, JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('FTPSD_')))) + '\\n');
`,
    );
    const hook = await receiver();
    const xferlog = join(dir, 'xferlog');
    const ftpd = await Served.start(
      [
        ...loopbackArgs(dir),
        '--user', 'alice:pw-Alice-1',
        '--metrics-listen', '127.0.0.1:0',
        '--xferlog', xferlog,
        '--hook', `upload=${process.execPath} ${join(dir, 'hook.mjs')}`,
        '--webhook', hook.url,
      ],
      { env: { FTPSD_PASSWORD: 'not-for-hooks' } },
    );
    try {
      const m = /^metrics:\s+(http:\/\/127\.0\.0\.1:\d+)\/metrics$/m.exec(ftpd.stdout);
      expect(m, ftpd.stdout).not.toBeNull();
      const base = m![1]!;
      expect((await httpGet(`${base}/healthz`)).body).toBe('ok\n');

      const local = join(dir, 'up load.txt');
      await writeFile(local, 'twelve bytes');
      const url = `ftp://127.0.0.1:${ftpd.port}`;
      expect((await curl(['--ssl-reqd', '-k', '-u', 'alice:pw-Alice-1', '-T', local, `${url}/up%20load.txt`])).code).toBe(0);
      expect((await curl(['--ssl-reqd', '-k', '-u', 'alice:pw-Alice-1', `${url}/up%20load.txt`])).stdout).toBe('twelve bytes');

      await eventually(async () => (await readFile(xferlog, 'utf8')).split('\n').filter(Boolean).length === 2, 10_000, 'xferlog lines');
      const [up, down] = (await readFile(xferlog, 'utf8')).trim().split('\n').map((l) => l.split(/\s+/).slice(5));
      expect(up).toEqual([expect.stringMatching(/^\d+$/), '127.0.0.1', '12', '/up_load.txt', 'b', '_', 'i', 'r', 'alice', 'ftp', '0', '*', 'c']);
      expect(down!.slice(1)).toEqual(['127.0.0.1', '12', '/up_load.txt', 'b', '_', 'o', 'r', 'alice', 'ftp', '0', '*', 'c']);

      // Rotation: move the file away, signal, and the next transfer goes to a new file.
      await rename(xferlog, `${xferlog}.1`);
      ftpd.child.kill('SIGUSR1');
      await eventually(() => /xferlog reopened/.test(ftpd.stdout), 10_000, 'the reopen log line');
      expect((await curl(['--ssl-reqd', '-k', '-u', 'alice:pw-Alice-1', `${url}/up%20load.txt`])).code).toBe(0);
      await eventually(async () => (await readFile(xferlog, 'utf8').catch(() => '')).includes(' o r alice '), 10_000, 'a new xferlog');
      expect((await readFile(`${xferlog}.1`, 'utf8')).trim().split('\n')).toHaveLength(2);

      const metrics = parseMetrics((await httpGet(`${base}/metrics`)).body);
      expect(metrics.get('ftpsd_transfers_total{direction="upload",protection="private",result="ok"}')).toBe(1);
      expect(metrics.get('ftpsd_transfers_total{direction="download",protection="private",result="ok"}')).toBe(2);
      expect(metrics.get('ftpsd_logins_total{result="ok"}')).toBe(3);
      expect(metrics.has('process_resident_memory_bytes')).toBe(true);

      await eventually(async () => (await readFile(hookOut, 'utf8').catch(() => '')).includes('upload'), 10_000, 'the hook');
      const env = JSON.parse((await readFile(hookOut, 'utf8')).trim()) as Record<string, string>;
      expect(env).toMatchObject({ FTPSD_EVENT: 'upload', FTPSD_USER: 'alice', FTPSD_PATH: '/up load.txt', FTPSD_BYTES: '12', FTPSD_SECURE: '1' });
      expect(env.FTPSD_PASSWORD).toBeUndefined();
    } finally {
      const end = await ftpd.stop('SIGTERM');
      hook.server.close();
      expect(end.code).toBe(0);
    }
    // Every event reached the webhook before the process exited, the last logout included.
    const events = hook.bodies.map((b) => b.event);
    expect(events.filter((e) => e === 'login')).toHaveLength(3);
    expect(events.filter((e) => e === 'logout')).toHaveLength(3);
    expect(events.filter((e) => e === 'upload')).toHaveLength(1);
    expect(events.filter((e) => e === 'download')).toHaveLength(2);
    expect(JSON.stringify(hook.bodies)).not.toContain('pw-Alice-1');
  });

  it('a metrics port in use, or an xferlog that cannot be opened, stops the start with one line', async () => {
    const dir = await tempDir();
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as AddressInfo).port;
    try {
      const { code, stderr } = await runToEnd([...loopbackArgs(dir), '--metrics-listen', `127.0.0.1:${port}`]);
      expect(code).toBe(1);
      expect(stderr.trim()).toBe(`error: cannot listen for metrics on 127.0.0.1:${port}: address already in use`);
    } finally {
      busy.close();
    }
    const missing = join(dir, 'no', 'such', 'xferlog');
    const r2 = await runToEnd([...loopbackArgs(dir), '--xferlog', missing]);
    expect(r2.code).toBe(1);
    expect(r2.stderr.trim()).toBe(`error: cannot open xferlog ${missing}: no such directory`);
  });

  it('logs JSON lines when stdout is not a terminal, pretty lines with --log-format pretty', async () => {
    const dir = await tempDir();
    const json = await Served.start([...loopbackArgs(dir), '--user', 'a:b']);
    await json.stop();
    const jsonLines = json.stdout.split('\n').filter((l) => /^\{/.test(l));
    expect(jsonLines.length).toBeGreaterThan(0);
    expect(JSON.parse(jsonLines[0]!)).toMatchObject({ level: 30, msg: 'listening' });
    // Every line on stdout is JSON, the banner included (`| jq` works).
    const raw = json.rawStdout.split('\n').filter((l) => l !== '');
    const parsed = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    const ready = parsed.find((l) => l.msg === 'ready');
    expect(ready).toMatchObject({ level: 30, listening: [{ kind: 'explicit', address: '127.0.0.1', port: json.port }, { kind: 'implicit', address: '127.0.0.1' }] });
    expect((ready!.banner as string[]).some((l) => l.startsWith('listening: explicit FTPS on 127.0.0.1:'))).toBe(true);

    const pretty = await Served.start([...loopbackArgs(dir), '--user', 'a:b', '--log-format', 'pretty']);
    await pretty.stop();
    expect(pretty.rawStdout).not.toMatch(/^\{/m);
    expect(pretty.rawStdout).toMatch(/^listening: explicit FTPS on 127\.0\.0\.1:\d+$/m);
    expect(pretty.stdout).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO  listening  address=127\.0\.0\.1 port=\d+ implicit=false$/m);
    expect(pretty.stdout).not.toMatch(/\x1b/); // no colours when not on a terminal
  });

  it('logs pretty, coloured lines on a real terminal by default (and JSON there with --log-format json)', async () => {
    const dir = await tempDir();
    const tty = await onTerminal([...loopbackArgs(dir), '--user', 'a:b']);
    expect(tty).toMatch(/\x1b\[32mINFO \x1b\[0m \x1b\[1mlistening\x1b\[0m  address=127\.0\.0\.1/);
    expect(tty).not.toMatch(/^\{"level"/m);
    const forced = await onTerminal([...loopbackArgs(dir), '--user', 'a:b', '--log-format', 'json']);
    expect(forced).toMatch(/^\{"level":30,.*"msg":"listening"/m);
  });
});

function runToEnd(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Runs ftpsd under script(1), on a pseudo-terminal, until its banner; then stops it and returns the output. */
async function onTerminal(args: string[]): Promise<string> {
  const command = ['exec', process.execPath, MAIN, ...args].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ').replace(/^'exec'/, 'exec');
  // One process: script's only child is the server whose lines are checked.
  const script = spawn('script', ['-qefc', command, '/dev/null'], { env: cleanEnv({ TERM: 'xterm', FTPSD_WORKERS: '1' }), stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  script.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const closed = new Promise<void>((r) => script.once('close', () => r()));
  try {
    await eventually(() => /^try: /m.test(bannerText(out.replace(/\r/g, ''))), 20_000, 'the banner on the terminal');
  } finally {
    // The shell exec'd ftpsd: it is script's only child.
    const pid = await new Promise<string>((resolve) => execFile('pgrep', ['-P', String(script.pid)], (_e, stdout) => resolve(stdout.trim())));
    if (/^\d+$/.test(pid)) process.kill(Number(pid), 'SIGTERM');
    else script.kill('SIGKILL');
    const timer = setTimeout(() => script.kill('SIGKILL'), 15_000);
    await closed;
    clearTimeout(timer);
  }
  return out.replace(/\r/g, '');
}
