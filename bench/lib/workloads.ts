/**
 * The workloads, with the anchor kit's figure names and measurement method, so that ftpsd's figures sit
 * beside the anchors' in one table. `MODE` in a name is `plain` or `tls` (explicit FTPS: AUTH TLS, and
 * PBSZ 0 + PROT P for data). Every figure with repetitions has a `<name>_runs` line next to its median.
 */
import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FtpClient, openSession, type SessionOptions } from './ftp-client.js';
import { fixtureDir, smallName } from './fixtures.js';
import * as proc from './proc.js';
import { runSessions, type SessionsResult } from './sessions.js';
import type { Target } from './servers.js';
import { runSmall } from './small-files.js';
import { firstLine, fmt, log, median, now, out, selfCpuSeconds, sleep } from './stats.js';

export const WORKLOADS = ['mem', 'sessions', 'small', 'list', 'retr', 'stor'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface BenchConfig {
  reps: number;
  bigMiB: number;
  sessions: number;
  conc: number;
  clientProcs: number;
  small: number;
  smallSize: number;
  smallMaxS: number;
  listN: number;
  idle: number;
  curl: string;
  timeoutMs: number;
}

const GiB = 1024 ** 3;

export class Runner {
  readonly mode: 'plain' | 'tls';
  /** Session setups retried (where the figure is not the session rate itself), by workload. */
  private readonly retries: Record<string, number> = {};

  constructor(
    readonly t: Target,
    readonly tls: boolean,
    readonly c: BenchConfig,
  ) {
    this.mode = tls ? 'tls' : 'plain';
  }

  private serverCpu(): number {
    return this.t.pids.length ? proc.treeCpuSeconds(this.t.pids) : NaN;
  }

  private sessOpts(timeoutMs = this.c.timeoutMs): SessionOptions {
    return { host: this.t.host, port: this.t.port, user: this.t.user, pass: this.t.pass, tls: this.tls, timeoutMs };
  }

  private async openRetry(what: string, o = this.sessOpts(), tries = 5): Promise<FtpClient> {
    for (let i = 1; ; i++) {
      try {
        return await openSession(o);
      } catch (e) {
        this.retries[what] = (this.retries[what] ?? 0) + 1;
        if (i >= tries) throw e;
        log(`${what} ${this.mode}: session setup failed (${firstLine(e)}), retrying`);
        await sleep(100);
      }
    }
  }

  /** Runs the chosen workloads (mem first, on a freshly started server) and prints their figures. */
  async run(only: ReadonlySet<Workload>): Promise<number> {
    const M = this.mode;
    if (this.t.pids.length) {
      const m = proc.treeMem(this.t.pids);
      out(`server_idle_rss_KiB_${M}`, m.rss);
      out(`server_idle_procs_${M}`, m.procs);
    }
    const steps: [Workload, () => Promise<void>][] = [
      ['mem', () => this.mem()],
      ['sessions', () => this.sessions()],
      ['small', () => this.smallFiles()],
      ['list', () => this.list()],
      ['retr', () => this.curl('retr')],
      ['stor', () => this.curl('stor')],
    ];
    let failed = 0;
    for (const [name, fn] of steps) {
      if (!only.has(name)) continue;
      if (!this.t.pids.length && name === 'mem') {
        log('mem: no server pid (--pid), skipped');
        continue;
      }
      const t0 = now();
      const b0 = proc.machineBusySeconds();
      const ours0 = this.ownCpu();
      try {
        await fn();
      } catch (e) {
        failed++;
        log(`${name} ${M} FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        out(`${name}_${M}_failed`, JSON.stringify(firstLine(e)));
      }
      const dt = now() - t0;
      // CPU used by everything except this client, its curl children and the server tree (other
      // tenants, kernel threads), in % of one core: a noise flag for a shared machine.
      const other = proc.machineBusySeconds() - b0 - (this.ownCpu() - ours0);
      out(`${name}_${M}_other_cpu_pct`, fmt((100 * other) / dt));
      log(`${name} ${M} took ${fmt(dt)} s`);
    }
    for (const [w, n] of Object.entries(this.retries)) out(`${w}_${M}_login_retries`, n);
    return failed;
  }

  private ownCpu(): number {
    const s = this.serverCpu();
    return (Number.isFinite(s) ? s : 0) + selfCpuSeconds() + proc.selfChildrenCpuSeconds();
  }

  // ------------------------------------------------------------------ idle memory
  private async mem(): Promise<void> {
    const pids = this.t.pids;
    const sessions: FtpClient[] = [];
    let errors = 0;
    const open = async (n: number) => {
      let left = n;
      await Promise.all(
        Array.from({ length: Math.min(this.c.conc, n) }, async () => {
          while (left > 0) {
            left--;
            try {
              sessions.push(await this.openRetry('mem', this.sessOpts(120_000)));
            } catch (e) {
              errors++;
              log(`mem session failed: ${firstLine(e)}`);
            }
          }
        }),
      );
    };
    const base = proc.treeMem(pids);
    await open(1);
    await sleep(1000);
    const m1 = proc.treeMem(pids);
    await open(this.c.idle - 1);
    await sleep(2000);
    const mN = proc.treeMem(pids);
    const n = sessions.length;
    let i = 0;
    await Promise.all(
      Array.from({ length: this.c.conc }, async () => {
        while (i < sessions.length) await sessions[i++]!.quit();
      }),
    );
    for (let k = 0; k < 50 && proc.treeMem(pids).procs > base.procs; k++) await sleep(200);
    const k = `mem_${this.mode}`;
    out(`${k}_base_rss_KiB`, base.rss);
    out(`${k}_rss_1_KiB`, m1.rss);
    out(`${k}_rss_${this.c.idle}_KiB`, mN.rss);
    out(`${k}_procs_1`, m1.procs);
    out(`${k}_procs_${this.c.idle}`, mN.procs);
    out(`${k}_sessions_open`, n);
    out(`${k}_rss_KiB_per_session`, fmt((mN.rss - m1.rss) / Math.max(n - 1, 1)));
    out(`${k}_pss_KiB_per_session`, fmt((mN.pss - m1.pss) / Math.max(n - 1, 1)));
    out(`${k}_errors`, errors);
    log(`mem ${this.mode}: rss 1=${m1.rss} KiB ${n}=${mN.rss} KiB procs ${m1.procs}->${mN.procs}`);
  }

  // ------------------------------------------------------------------ session rate
  private async sessionsOnce() {
    const base = { host: this.t.host, port: this.t.port, user: this.t.user, pass: this.t.pass, tls: this.tls, timeoutMs: this.c.timeoutMs };
    const procs = this.c.clientProcs;
    const s0 = this.serverCpu();
    const c0 = selfCpuSeconds();
    const t0 = now();
    let r: SessionsResult;
    let workerCpu = 0;
    if (procs <= 1) {
      r = await runSessions({ ...base, total: this.c.sessions, conc: this.c.conc });
    } else {
      // Worker processes, each with its share of the sessions and of the concurrency; client CPU is the sum.
      const worker = fileURLToPath(new URL('./sessions.ts', import.meta.url));
      const parts = await Promise.all(
        Array.from({ length: procs }, (_, i) => {
          const total = Math.floor(this.c.sessions / procs) + (i < this.c.sessions % procs ? 1 : 0);
          const conc = Math.max(1, Math.round(this.c.conc / procs));
          return new Promise<SessionsResult & { cpuS: number }>((resolve) => {
            const ch = spawn(process.execPath, [...process.execArgv, worker, JSON.stringify({ ...base, total, conc })], { stdio: ['ignore', 'pipe', 'inherit'] });
            let so = '';
            ch.stdout.on('data', (d: Buffer) => (so += d.toString()));
            ch.on('close', () => {
              try {
                resolve(JSON.parse(so) as SessionsResult & { cpuS: number });
              } catch {
                resolve({ ok: 0, errors: total, lastErr: 'worker failed', cpuS: 0 });
              }
            });
          });
        }),
      );
      r = { ok: 0, errors: 0, lastErr: '' };
      for (const p of parts) {
        r.ok += p.ok;
        r.errors += p.errors;
        r.lastErr = p.lastErr || r.lastErr;
        workerCpu += p.cpuS;
      }
    }
    const dt = now() - t0;
    const c1 = selfCpuSeconds() + workerCpu;
    await sleep(300); // let per-session processes of forking servers exit and be reaped
    const s1 = this.serverCpu();
    if (r.errors) log(`sessions ${this.mode}: ${r.errors} errors, last: ${firstLine(r.lastErr)}`);
    const ok = Math.max(r.ok, 1);
    return { rate: r.ok / dt, errors: r.errors, cliPct: (100 * (c1 - c0)) / dt, srvMs: (1000 * (s1 - s0)) / ok, cliMs: (1000 * (c1 - c0)) / ok };
  }

  /** Also used for the argon2id login figures (with `prefix` = `sessions_argon2`). */
  async sessions(prefix = 'sessions'): Promise<void> {
    const runs = [];
    for (let i = 0; i < this.c.reps; i++) {
      const r = await this.sessionsOnce();
      runs.push(r);
      log(`${prefix} ${this.mode} run ${i + 1}/${this.c.reps}: ${fmt(r.rate)}/s (${r.errors} errors, client ${fmt(r.cliPct)}% cpu)`);
      await sleep(500);
    }
    const k = `${prefix}_${this.mode}`;
    out(`${k}_per_s`, fmt(median(runs.map((r) => r.rate))));
    out(`${k}_per_s_runs`, runs.map((r) => fmt(r.rate)).join(','));
    out(`${k}_server_cpu_ms_per_session`, fmt(median(runs.map((r) => r.srvMs)), 3));
    out(`${k}_client_cpu_pct`, fmt(median(runs.map((r) => r.cliPct))));
    out(`${k}_client_cpu_ms_per_session`, fmt(median(runs.map((r) => r.cliMs)), 3));
    out(`${k}_errors`, runs.reduce((a, r) => a + r.errors, 0));
  }

  // ------------------------------------------------------------------ small files
  private async smallOnce() {
    const f = await this.openRetry('small');
    try {
      if (this.tls) await f.protP();
      await f.cmd('TYPE I', (c) => c === 200);
      const opts = { secure: this.tls, expectSize: this.c.smallSize };
      await runSmall(f, Array.from({ length: Math.min(10, this.c.small) }, (_, i) => smallName(i)), opts); // warm-up
      const names = Array.from({ length: this.c.small }, (_, i) => smallName(i));
      const s0 = this.serverCpu();
      const c0 = selfCpuSeconds();
      const t0 = now();
      const r = await runSmall(f, names, { ...opts, maxSeconds: this.c.smallMaxS });
      const dt = now() - t0;
      const c1 = selfCpuSeconds();
      const s1 = this.serverCpu();
      if (r.n < this.c.small) log(`small ${this.mode}: stopped after ${r.n} files (BENCH_SMALL_MAX_S=${this.c.smallMaxS})`);
      await f.quit();
      const n = Math.max(r.n, 1);
      return { rate: r.n / dt, n: r.n, resumedPct: (100 * r.resumed) / n, bad: r.bad, cliPct: (100 * (c1 - c0)) / dt, cliMs: (1000 * (c1 - c0)) / n, srvMs: (1000 * (s1 - s0)) / n };
    } catch (e) {
      f.destroy();
      throw e;
    }
  }

  private async smallFiles(): Promise<void> {
    const runs = [];
    let errors = 0;
    for (let i = 0; i < this.c.reps; i++) {
      try {
        const r = await this.smallOnce();
        runs.push(r);
        log(`small ${this.mode} run ${i + 1}/${this.c.reps}: ${fmt(r.rate)} files/s (resumed ${fmt(r.resumedPct)}%, client ${fmt(r.cliPct)}% cpu)`);
      } catch (e) {
        errors++;
        log(`small ${this.mode} run ${i + 1} FAILED: ${firstLine(e)}`);
      }
    }
    const k = `small_${this.mode}`;
    out(`${k}_files_per_s`, fmt(median(runs.map((r) => r.rate))));
    out(`${k}_files_per_s_runs`, runs.map((r) => fmt(r.rate)).join(',') || 'NA');
    out(`${k}_server_cpu_ms_per_file`, fmt(median(runs.map((r) => r.srvMs)), 3));
    out(`${k}_client_cpu_ms_per_file`, fmt(median(runs.map((r) => r.cliMs)), 3));
    out(`${k}_client_cpu_pct`, fmt(median(runs.map((r) => r.cliPct))));
    if (this.tls) out(`${k}_resumed_pct`, fmt(median(runs.map((r) => r.resumedPct))));
    out(`${k}_files_done`, runs.map((r) => r.n).join(',') || 'NA');
    out(`${k}_errors`, errors + runs.reduce((a, r) => a + r.bad, 0));
  }

  // ------------------------------------------------------------------ listing
  private async list(): Promise<void> {
    const f = await this.openRetry('list');
    const res: Record<string, { verb: string; runs: { s: number; srv: number; cli: number }[]; lines: number; baseRss: number; peakRss: number; hwm: number }> = {};
    try {
      if (this.tls) await f.protP();
      const feat = await f.cmd('FEAT');
      const hasMlsd = feat.code === 211 && /^\s*MLS[TD]\b/im.test(feat.text);
      const cmds: [string, string][] = [
        ['list', hasMlsd ? 'MLSD' : 'LIST'],
        ['LIST', 'LIST'],
      ];
      for (const [key, verb] of cmds) {
        const runs = [];
        let lines = 0;
        await f.transfer(`${verb} bench/list10k`, { secure: this.tls, countLines: true }); // warm-up (dentry cache)
        const baseRss = proc.treeMem(this.t.pids).rss;
        let peakRss = baseRss;
        // The server's RSS while it lists, sampled (a listing must stream in bounded memory).
        const sampler = setInterval(() => (peakRss = Math.max(peakRss, proc.treeRss(this.t.pids))), 50);
        try {
          for (let i = 0; i < this.c.reps; i++) {
            const c0 = selfCpuSeconds();
            const s0 = this.serverCpu();
            const t0 = now();
            const r = await f.transfer(`${verb} bench/list10k`, { secure: this.tls, countLines: true });
            runs.push({ s: now() - t0, srv: this.serverCpu() - s0, cli: selfCpuSeconds() - c0 });
            lines = r.lines;
          }
        } finally {
          clearInterval(sampler);
        }
        res[key] = { verb, runs, lines, baseRss, peakRss, hwm: proc.treeHwm(this.t.pids) };
      }
      await f.quit();
    } catch (e) {
      f.destroy();
      throw e;
    }
    for (const [key, r] of Object.entries(res)) {
      const k = `${key}_${this.mode}`;
      out(`${k}_s`, fmt(median(r.runs.map((x) => x.s)), 4));
      out(`${k}_s_runs`, r.runs.map((x) => fmt(x.s, 4)).join(','));
      out(`${k}_server_cpu_s`, fmt(median(r.runs.map((x) => x.srv)), 3));
      out(`${k}_client_cpu_s`, fmt(median(r.runs.map((x) => x.cli)), 3));
      out(`${k}_cmd`, r.verb);
      out(`${k}_lines`, r.lines);
      out(`${k}_rss_before_KiB`, r.baseRss);
      out(`${k}_peak_rss_KiB`, r.peakRss);
      out(`${k}_server_hwm_KiB`, r.hwm);
      if (r.lines !== this.c.listN) log(`${key} ${this.mode} (${r.verb}): ${r.lines} lines, expected ${this.c.listN}`);
      log(`${key} ${this.mode} (${r.verb}): ${fmt(median(r.runs.map((x) => x.s)), 4)} s, ${r.lines} lines`);
    }
  }

  // ------------------------------------------------------------------ bulk RETR/STOR with curl
  private async curlOnce(kind: 'retr' | 'stor', tag: string) {
    const size = this.c.bigMiB * 1048576;
    const base = `ftp://${encodeURIComponent(this.t.user)}:${encodeURIComponent(this.t.pass)}@${this.t.host}:${this.t.port}`;
    const upName = `stor-${process.pid}-${this.mode}-${tag}.bin`;
    const big = join(fixtureDir(this.t.root), 'big.bin');
    const args = ['-s', '-S', '--max-time', '600', '-w', '%{size_download} %{size_upload} %{time_total} %{time_pretransfer}'];
    if (this.tls) args.push('--ssl-reqd', '-k');
    if (kind === 'retr') args.push('-o', '/dev/null', `${base}/bench/big.bin`);
    else args.push('-o', '/dev/null', '-T', big, `${base}/bench/up/${upName}`);
    const s0 = this.serverCpu();
    const c0 = proc.selfChildrenCpuSeconds();
    const r = await new Promise<{ code: number | null; so: string; se: string }>((resolve) => {
      const ch = spawn(this.c.curl, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let so = '';
      let se = '';
      ch.stdout.on('data', (d: Buffer) => (so += d.toString()));
      ch.stderr.on('data', (d: Buffer) => (se += d.toString()));
      ch.on('error', (e) => (se += e.message));
      ch.on('close', (code) => resolve({ code, so, se }));
    });
    await sleep(300); // let per-session server processes exit and be reaped
    const s1 = this.serverCpu();
    const c1 = proc.selfChildrenCpuSeconds();
    const [down = NaN, up = NaN, total = NaN] = r.so.trim().split(/\s+/).map(Number);
    const bytes = kind === 'retr' ? down : up;
    let ok = r.code === 0 && bytes === size;
    if (kind === 'stor') {
      const file = join(fixtureDir(this.t.root), 'up', upName);
      let got = -1;
      try {
        got = statSync(file).size;
      } catch {
        // missing
      }
      if (got !== size) ok = false;
      rmSync(file, { force: true });
    }
    if (!ok) log(`${kind} ${this.mode} attempt failed: rc=${r.code} bytes=${bytes} ${r.se.trim().split('\n').pop() ?? ''}`);
    return { ok, MBps: bytes / total / 1e6, srvCpuPerGiB: (s1 - s0) / (bytes / GiB), cliCpuPerGiB: (c1 - c0) / (bytes / GiB), cliPct: (100 * (c1 - c0)) / total };
  }

  private async curl(kind: 'retr' | 'stor'): Promise<void> {
    const runs = [];
    let errors = 0;
    for (let i = 0; i < this.c.reps; i++) {
      let r: Awaited<ReturnType<Runner['curlOnce']>> | undefined;
      for (let attempt = 0; attempt < 4; attempt++) {
        r = await this.curlOnce(kind, `${i}-${attempt}`);
        if (r.ok) break;
        errors++;
        await sleep(500);
      }
      if (r?.ok) runs.push(r);
      log(`${kind} ${this.mode} run ${i + 1}/${this.c.reps}: ${r?.ok ? fmt(r.MBps) + ' MB/s' : 'FAILED'}`);
    }
    const k = `${kind}_${this.mode}`;
    out(`${k}_MBps`, fmt(median(runs.map((r) => r.MBps))));
    out(`${k}_MBps_runs`, runs.map((r) => fmt(r.MBps)).join(',') || 'NA');
    out(`${k}_server_cpu_s_per_GiB`, fmt(median(runs.map((r) => r.srvCpuPerGiB)), 3));
    out(`${k}_client_cpu_s_per_GiB`, fmt(median(runs.map((r) => r.cliCpuPerGiB)), 3));
    out(`${k}_client_cpu_pct`, fmt(median(runs.map((r) => r.cliPct))));
    out(`${k}_errors`, errors);
  }
}
