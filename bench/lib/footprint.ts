/**
 * `npm run bench -- footprint`: the process memory of an idle ftpsd, beside the floor a bare Node
 * program sets (issue 15). Prints, as `name value` lines (KiB, RSS and anonymous memory summed over the
 * process tree, read after BENCH_SETTLE_S seconds of idleness, when V8's memory reducer has run):
 *
 * - `footprint_node_bare_*`: an empty Node process (`node -e` with a timer);
 * - `footprint_ftpsd_w1_*`: `ftpsd serve --workers 1`; `footprint_ftpsd_default_*`: the default start
 *   (a primary and one worker per core; `footprint_ftpsd_default_procs` processes);
 * - `footprint_net_per_socket_KiB`, `footprint_tls_per_socket_KiB`: a bare Node net / tls server holding
 *   BENCH_IDLE_SESSIONS idle sockets (TLS: handshake done), RSS growth per socket: the floor of an idle
 *   session (ftpsd's own figure is the `mem` workload's `mem_MODE_rss_KiB_per_session`);
 * - `footprint_tls_js_per_socket_KiB`: the same, but each TLS socket runs over a JS stream on the TCP
 *   socket (a Duplex that writes to it and is fed its bytes), the way ftpsd's control connection runs
 *   TLS so that CCC can remove it (src/protocol/record-pipe.ts): the floor of that path.
 *
 * ftpsd runs from dist/ (or --ftpsd FILE) on 127.0.0.1 port 0, with its state and root in the bench's
 * state directory; BENCH_NODE_ARGS are passed to it (not to the bare programs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { tree } from './proc.js';
import { log, out } from './stats.js';

export interface FootprintOptions {
  main: string;
  stateDir: string;
  cert: string;
  key: string;
}

interface Mem {
  rss: number;
  anon: number;
  procs: number;
}

function kib(text: string, re: RegExp): number {
  return Number(re.exec(text)?.[1] ?? 0);
}

/** RSS and anonymous memory (KiB) summed over the live processes of a tree. */
function treeMemory(pid: number): Mem {
  const m = { rss: 0, anon: 0, procs: 0 };
  for (const st of tree([pid])) {
    if (st.state === 'Z') continue;
    try {
      const s = readFileSync(`/proc/${st.pid}/smaps_rollup`, 'utf8');
      m.rss += kib(s, /^Rss:\s+(\d+) kB/m);
      m.anon += kib(s, /^Anonymous:\s+(\d+) kB/m);
      m.procs++;
    } catch {
      // gone meanwhile
    }
  }
  return m;
}

/** Spawns `node args`, resolves once stdout matched `ready` (with the match), rejects after 30 s. */
async function started(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL'); // never left running (it would keep this process, and the bench lock, alive)
      reject(new Error(`no ready line in 30 s: ${text}`));
    }, 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      const m = ready.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before it was ready: ${text}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, match };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([gone, sleep(15_000).then(() => child.kill('SIGKILL'))]);
}

function print(name: string, m: Mem): void {
  out(`footprint_${name}_rss_KiB`, m.rss);
  out(`footprint_${name}_anon_KiB`, m.anon);
  out(`footprint_${name}_procs`, m.procs);
}

/** A bare server (net, tls, or tls over a JS stream) holding `n` idle sockets: RSS per socket. */
async function bareServer(kind: 'net' | 'tls' | 'tls_js', n: number, o: FootprintOptions, settleS: number): Promise<void> {
  const files = `const fs=require('fs');const opts={cert:fs.readFileSync(${JSON.stringify(o.cert)}),key:fs.readFileSync(${JSON.stringify(o.key)})};`;
  const listen = `.listen(0,'127.0.0.1',()=>console.log('port '+s.address().port))`;
  const code =
    kind === 'net'
      ? `const s=require('net').createServer(c=>{c.on('error',()=>{})})${listen}`
      : kind === 'tls'
        ? `${files}const s=require('tls').createServer(opts,c=>{c.on('error',()=>{})})${listen}`
        : // TLS over a Duplex fed from the TCP socket (ftpsd's control connection path).
          `${files}const tls=require('tls'),{Duplex}=require('stream');const ctx=tls.createSecureContext(opts);` +
          `const s=require('net').createServer(raw=>{raw.on('error',()=>{});` +
          `const p=new Duplex({allowHalfOpen:true,read(){raw.resume()},write(c,e,cb){raw.write(c,()=>cb())}});` +
          `raw.on('data',d=>{if(!p.push(d))raw.pause()});` +
          `const t=new tls.TLSSocket(p,{isServer:true,secureContext:ctx});t.on('error',()=>{})})${listen}`;
  const { child, match } = await started(['-e', code], /port (\d+)/);
  const port = Number(match[1]);
  const sockets: { destroy(): void }[] = [];
  try {
    await sleep(settleS * 1000);
    const before = treeMemory(child.pid!);
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, () =>
          new Promise<void>((resolve, reject) => {
            const s = kind === 'net' ? connect({ host: '127.0.0.1', port }, () => resolve()) : tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve());
            s.once('error', reject);
            sockets.push(s);
          }),
        ),
      );
    }
    await sleep(2000);
    const after = treeMemory(child.pid!);
    out(`footprint_${kind}_sockets`, sockets.length);
    out(`footprint_${kind}_rss_0_KiB`, before.rss);
    out(`footprint_${kind}_rss_${n}_KiB`, after.rss);
    out(`footprint_${kind}_per_socket_KiB`, ((after.rss - before.rss) / n).toFixed(1));
  } finally {
    for (const s of sockets) s.destroy();
    await stop(child);
  }
}

/** ftpsd idle, with `workers` (a number or auto). */
async function ftpsdIdle(name: string, workers: string, o: FootprintOptions, settleS: number): Promise<void> {
  const dir = join(o.stateDir, 'footprint');
  await mkdir(dir, { recursive: true });
  const nodeArgs = process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const args = [...nodeArgs, o.main, 'serve', '--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0', '--root', join(dir, 'root'), '--state-dir', join(dir, 'state'), '--user', 'bench:benchpass', '--cert', o.cert, '--key', o.key, '--log-level', 'warn'];
  const { child } = await started(args, /try: /, { ...process.env, FTPSD_WORKERS: workers });
  try {
    const early = treeMemory(child.pid!);
    await sleep(settleS * 1000);
    const m = treeMemory(child.pid!);
    log(`footprint ${name}: ${early.rss} KiB after start, ${m.rss} KiB after ${settleS} s (${m.procs} processes)`);
    out(`footprint_${name}_start_rss_KiB`, early.rss);
    print(name, m);
  } finally {
    await stop(child);
  }
}

export async function footprint(o: FootprintOptions): Promise<void> {
  const settleS = Number(process.env.BENCH_SETTLE_S ?? 30);
  const n = Number(process.env.BENCH_IDLE_SESSIONS ?? 1000);
  out('# footprint_settle_s', settleS);
  {
    const { child } = await started(['-e', `console.log('ready');setInterval(()=>{},1e6)`], /ready/);
    await sleep(settleS * 1000);
    print('node_bare', treeMemory(child.pid!));
    await stop(child);
  }
  await ftpsdIdle('ftpsd_w1', '1', o, settleS);
  await ftpsdIdle('ftpsd_default', 'auto', o, settleS);
  await bareServer('net', n, o, 2);
  await bareServer('tls', n, o, 2);
  await bareServer('tls_js', n, o, 2);
}
