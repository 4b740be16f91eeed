/**
 * What the hook and webhook tests share: the little programs hooks run, a server with automation
 * attached, a loopback webhook receiver, and event records.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Automation, type AutomationOptions } from '../../src/ops/automation.js';
import type { AutomationEvent } from '../../src/ops/hooks.js';
import { startServer, type TestServer } from '../helpers/server.js';

const cleanups: (() => Promise<unknown>)[] = [];

/** Closes what the helpers opened, last first (call it in afterEach). */
export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/**
 * A temp directory with the programs hooks run: record.mjs, flaky.mjs and gate.mjs (see their comments).
 * The caller removes it.
 */
export async function hookScripts(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ftpsd-hooks-'));
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
  return dir;
}

export async function serverWith(options: AutomationOptions): Promise<{ t: TestServer; automation: Automation }> {
  const t = await startServer({ anonymous: true });
  const automation = new Automation(options);
  automation.attach(t.server.events);
  cleanups.push(async () => {
    await t.close();
    await automation.close(0);
  });
  return { t, automation };
}

export const readLines = async (file: string) => (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

export interface Received {
  headers: IncomingMessage['headers'];
  body: AutomationEvent;
  url: string;
}

/** A loopback webhook receiver: answers with `status()` (or holds the request while `hold` is set). */
export async function receiver(status: (n: number) => number = () => 200): Promise<{
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

export function event(name: AutomationEvent['event'], extra: Partial<AutomationEvent> = {}): AutomationEvent {
  return { event: name, time: new Date().toISOString(), session: 's1', user: 'alice', peer: '127.0.0.1', ...extra };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
