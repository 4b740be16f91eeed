/**
 * deploy/haproxy.cfg run for the many-nodes tests: its addresses and ports replaced by loopback ones
 * (node N is `10.0.0.1N` in the file), the server lines of nodes the test does not start dropped, the
 * health checks dropped (no probe noise in the nodes' logs; a node that is down refuses the connection
 * and HAProxy's `retries`/`redispatch` try another), `haproxy -c` first, then HAProxy in the foreground.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from '../cli/cli.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/poll.js';
import { freePort } from './service-helpers.js';

export interface BalancedNode {
  host: string;
  explicit: number;
  implicit: number;
}

export interface Balancer {
  /** The frontends on 127.0.0.1: explicit FTPS (deploy's `:21`) and implicit (`:990`). */
  ftp: number;
  ftps: number;
  output(): string;
  stop(): Promise<void>;
}

/** deploy/haproxy.cfg's text for these nodes and frontend ports. */
export function balancerConfig(text: string, ports: { ftp: number; ftps: number }, nodes: readonly BalancedNode[]): string {
  let out = text.replace('bind :21', `bind 127.0.0.1:${ports.ftp}`).replace('bind :990', `bind 127.0.0.1:${ports.ftps}`);
  nodes.forEach((n, i) => {
    out = out
      .replace(`10.0.0.1${i + 1}:2121 send-proxy-v2 check`, `${n.host}:${n.explicit} send-proxy-v2`)
      .replace(`10.0.0.1${i + 1}:990 send-proxy-v2 check`, `${n.host}:${n.implicit} send-proxy-v2`);
  });
  // Nodes of the file the test does not run.
  out = out.split('\n').filter((l) => !/^\s*server \S+ 10\.0\.0\.\d+:/.test(l)).join('\n');
  return out.replace('maxconn 4000', 'maxconn 200');
}

/** Starts HAProxy from deploy/haproxy.cfg in `dir`; resolves once a client (from `client`) gets a greeting through it. */
export async function startBalancer(binary: string, dir: string, nodes: readonly BalancedNode[], client: string): Promise<Balancer> {
  const ports = { ftp: await freePort(), ftps: await freePort() };
  const cfg = balancerConfig(await readFile(join(REPO, 'deploy/haproxy.cfg'), 'utf8'), ports, nodes);
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, cfg);
  const check = spawnSync(binary, ['-c', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused deploy/haproxy.cfg:\n${check.stdout}${check.stderr}\n${cfg}`);
  let output = '';
  const child: ChildProcess = spawn(binary, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = once(child, 'exit');
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
    try {
      const c = await RawClient.connect(ports.ftp, '127.0.0.1', { localAddress: client });
      c.close();
      return true;
    } catch {
      return false;
    }
  }, 'haproxy');
  return {
    ...ports,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** A failed FTPS login (530 to a wrong password) from `from` on `host:port`. */
export async function failLogin(port: number, host: string, from: string): Promise<void> {
  const c = await RawClient.connect(port, host, { localAddress: from });
  await c.expectCmd('AUTH TLS', 234);
  await c.upgrade();
  await c.expectCmd('USER eve', 331);
  const code = (await c.cmd('PASS wrong')).code;
  c.close();
  if (code !== 530) throw new Error(`PASS wrong: ${code}, not 530`);
}

/** Whether `host:port` refuses a connection from `from` with 421 before any greeting (a ban). */
export async function refusedFrom(port: number, host: string, from: string): Promise<boolean> {
  const c = await RawClient.connect(port, host, { localAddress: from, greeting: false });
  const r = await c.reply(5_000).catch(() => undefined);
  c.close();
  return r?.code === 421;
}
