/**
 * Many nodes (`--only nodes`): the aggregate throughput of 1, 2 and 3 `ftpsd serve` nodes (dist/, one
 * process each) behind HAProxy run from deploy/haproxy.cfg (`send-proxy-v2`, test/ops/balancer.ts), with
 * one PostgreSQL as the user database (the bench user is a database user) and one shared directory as
 * the store (a local directory every node serves: the same bytes, no network file system in the way).
 * BENCH_NODES_CLIENTS (6) curl clients at once, each through the balancer, explicit FTPS with PROT P,
 * passive (data straight to the node that holds the session): first each uploads BENCH_NODES_MIB (32)
 * MiB, then each downloads it. Prints, for N nodes:
 *   nodes_nN_stor_MBps, nodes_nN_retr_MBps   aggregate rate (bytes of all clients / wall time), median of reps
 *   nodes_nN_server_cpu_s_per_GiB           the nodes' CPU per GiB moved (both directions)
 * and nodes_n2_speedup_retr, nodes_n3_speedup_retr (and _stor): the rate with N nodes over 1 node.
 * The clients, HAProxy and the nodes share this machine's cores: on a 2-core host more nodes cannot add
 * CPU, so the figure says what the balancing costs or gains here, not what N machines would give.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from 'node:net';
import { hashPassword } from '../../src/auth/password.js';
import { UserStore } from '../../src/userdb/store.js';
import { postgresBin, startPostgres } from '../../test/services/postgres.js';
import { startBalancer } from '../../test/ops/balancer.js';
import { freePort, freePortRange, haproxyPath } from '../../test/ops/service-helpers.js';
import { treeCpuSeconds } from './proc.js';
import { fmt, log, median, now, out, sleep } from './stats.js';

const MAIN = resolve(import.meta.dirname, '../../dist/cli/main.js');
const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const USER = 'nodebench';
const PASS = 'nodebench-Pass-1';

const num = (name: string, dflt: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: not a whole number >= 1: ${v}`);
  return n;
};

interface Node {
  child: ChildProcess;
  host: string;
  explicit: number;
  implicit: number;
}

async function startNode(i: number, root: string, state: string, dbUrl: string): Promise<Node> {
  const host = HOSTS[i]!;
  const [explicit, implicit] = [await freePort(host), await freePort(host)];
  const range = await freePortRange(20, 40_000 + i * 5_000, 44_900 + i * 5_000, host);
  const args = [MAIN, 'serve', '--listen', `${host}:${explicit}`, '--implicit-listen', `${host}:${implicit}`, '--root', root, '--state-dir', state,
    '--proxy-protocol', '127.0.0.1/32', '--pasv-address', host, '--pasv-ports', `${range.min}-${range.max}`, '--log-level', 'warn'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FTPSD_WORKERS: '1', FTPSD_USER_DB: dbUrl } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 30_000;
  while (!(await canConnect(host, explicit))) {
    if (child.exitCode !== null) throw new Error(`node ${i + 1} exited: ${err.trim()}`);
    if (Date.now() > deadline) throw new Error(`node ${i + 1} did not listen in 30 s`);
    await sleep(100);
  }
  return { child, host, explicit, implicit };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}

async function stopNode(n: Node): Promise<void> {
  if (n.child.exitCode !== null) return;
  const done = new Promise((r) => n.child.once('exit', r));
  n.child.kill('SIGTERM');
  const t = setTimeout(() => n.child.kill('SIGKILL'), 5_000);
  await done;
  clearTimeout(t);
}

/** One curl through the balancer, PROT P; resolves true on success. */
function transfer(curl: string, port: number, args: string[]): Promise<boolean> {
  const all = ['-s', '-S', '--max-time', '600', '--ssl-reqd', '-k', '--noproxy', '*', '--user', `${USER}:${PASS}`, ...args];
  return new Promise((resolve) => {
    const ch = spawn(curl, all, { stdio: ['ignore', 'ignore', 'pipe'] });
    let se = '';
    ch.stderr.on('data', (d: Buffer) => (se += d.toString()));
    ch.on('error', (e) => (se += e.message));
    ch.on('close', (code) => {
      if (code !== 0) log(`curl ${args.at(-1)} (port ${port}): exit ${code} ${se.trim()}`);
      resolve(code === 0);
    });
  });
}

export async function manyNodes(reps: number, curl: string): Promise<void> {
  const haproxy = haproxyPath();
  if (!postgresBin() || !haproxy) {
    log('nodes skipped: needs PostgreSQL and HAProxy');
    out('nodes_skipped', '"postgresql or haproxy not installed"');
    return;
  }
  const clients = num('BENCH_NODES_CLIENTS', 6);
  const mib = num('BENCH_NODES_MIB', 32);
  const size = mib * 1048576;
  const dir = await mkdtemp(join(tmpdir(), 'ftpsd-bench-nodes-'));
  const db = await startPostgres();
  try {
    const store = await UserStore.open(db.url, () => undefined, 2);
    try {
      await store.add({ name: USER, passwordHash: await hashPassword(PASS), home: null, readOnly: false, permissions: null, rules: [], quotaBytes: null, quotaFiles: null, enabled: true, allowedNetworks: null, login: 'password', certificates: null });
    } finally {
      await store.close();
    }
    const root = join(dir, 'shared');
    await mkdir(join(root, USER), { recursive: true });
    const source = join(dir, 'source.bin');
    await writeFile(source, randomBytes(size));
    out('nodes_setup', JSON.stringify(`${clients} clients x ${mib} MiB, explicit FTPS PROT P passive, through HAProxy; store: one shared local directory; users: PostgreSQL`));
    const rates = new Map<string, number>();
    for (const n of [1, 2, 3]) {
      const nodes: Node[] = [];
      let balancer: Awaited<ReturnType<typeof startBalancer>> | undefined;
      try {
        for (let i = 0; i < n; i++) nodes.push(await startNode(i, root, join(dir, `state${i}`), db.url));
        balancer = await startBalancer(haproxy, dir, nodes, '127.0.0.1');
        const port = balancer.ftp;
        const url = (name: string) => `ftp://127.0.0.1:${port}/${name}`;
        const runs: { stor: number; retr: number; cpu: number }[] = [];
        for (let r = 0; r < reps; r++) {
          await sleep(300);
          const pids = nodes.map((x) => x.child.pid!);
          const c0 = treeCpuSeconds(pids);
          let t0 = now();
          const up = await Promise.all(Array.from({ length: clients }, (_, k) => transfer(curl, port, ['-T', source, url(`n${n}-${k}.bin`)])));
          const stor = (clients * size) / (now() - t0) / 1e6;
          t0 = now();
          const down = await Promise.all(Array.from({ length: clients }, (_, k) => transfer(curl, port, ['-o', '/dev/null', url(`n${n}-${k}.bin`)])));
          const retr = (clients * size) / (now() - t0) / 1e6;
          const cpu = (treeCpuSeconds(pids) - c0) / ((2 * clients * size) / 1024 ** 3);
          if (!up.every(Boolean) || !down.every(Boolean)) throw new Error(`nodes: a transfer failed with ${n} node(s)`);
          runs.push({ stor, retr, cpu });
          log(`nodes n${n} rep ${r + 1}: STOR ${fmt(stor)} MB/s, RETR ${fmt(retr)} MB/s`);
        }
        for (const dirn of ['stor', 'retr'] as const) {
          const rate = median(runs.map((x) => x[dirn]));
          rates.set(`${dirn}${n}`, rate);
          out(`nodes_n${n}_${dirn}_MBps`, fmt(rate));
        }
        out(`nodes_n${n}_server_cpu_s_per_GiB`, fmt(median(runs.map((x) => x.cpu)), 3));
      } finally {
        await balancer?.stop();
        await Promise.all(nodes.map(stopNode));
      }
    }
    for (const n of [2, 3]) {
      for (const dirn of ['stor', 'retr'] as const) out(`nodes_n${n}_speedup_${dirn}`, fmt(rates.get(`${dirn}${n}`)! / rates.get(`${dirn}1`)!, 2));
    }
  } finally {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
}
