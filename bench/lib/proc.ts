/**
 * Linux /proc sampling, the same method as the anchor kit: a server's process tree (roots and all
 * descendants), its CPU time (utime + stime + cutime + cstime of every live process, so reaped children
 * count once), its memory (VmRSS and PSS from smaps_rollup, zombies skipped), and the machine's busy time.
 */
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64 and arm64

interface Stat {
  pid: number;
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
}

export function readStat(pid: number | 'self'): Stat | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(f[i]);
  return { pid: pid === 'self' ? process.pid : pid, state: f[0] ?? '?', ppid: n(1), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14) };
}

function allStats(): Map<number, Stat> {
  const all = new Map<number, Stat>();
  for (const d of readdirSync('/proc')) {
    const c = d.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readStat(Number(d));
    if (st) all.set(st.pid, st);
  }
  return all;
}

/** The roots and all their descendants. */
export function tree(roots: readonly number[]): Stat[] {
  const all = allStats();
  const kids = new Map<number, number[]>();
  for (const st of all.values()) {
    const list = kids.get(st.ppid);
    if (list) list.push(st.pid);
    else kids.set(st.ppid, [st.pid]);
  }
  const seen = new Set<number>();
  const queue = roots.filter((p) => all.has(p));
  const res: Stat[] = [];
  for (let p = queue.pop(); p !== undefined; p = queue.pop()) {
    if (seen.has(p)) continue;
    seen.add(p);
    res.push(all.get(p)!);
    for (const k of kids.get(p) ?? []) queue.push(k);
  }
  return res;
}

/** CPU seconds used so far by the tree. */
export function treeCpuSeconds(roots: readonly number[]): number {
  let t = 0;
  for (const st of tree(roots)) t += st.utime + st.stime + st.cutime + st.cstime;
  return t / CLK_TCK;
}

function kib(path: string, re: RegExp): number {
  try {
    const m = re.exec(readFileSync(path, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export interface TreeMem {
  rss: number;
  pss: number;
  procs: number;
}

/** Summed RSS and PSS (KiB) and the number of live processes of the tree. */
export function treeMem(roots: readonly number[]): TreeMem {
  let rss = 0;
  let pss = 0;
  let procs = 0;
  for (const st of tree(roots)) {
    if (st.state === 'Z') continue;
    procs++;
    rss += kib(`/proc/${st.pid}/status`, /^VmRSS:\s+(\d+) kB/m);
    pss += kib(`/proc/${st.pid}/smaps_rollup`, /^Pss:\s+(\d+) kB/m);
  }
  return { rss, pss, procs };
}

/** Summed RSS (KiB) of the live processes of the tree: cheaper than `treeMem`, for sampling. */
export function treeRss(roots: readonly number[]): number {
  let rss = 0;
  for (const st of tree(roots)) if (st.state !== 'Z') rss += kib(`/proc/${st.pid}/status`, /^VmRSS:\s+(\d+) kB/m);
  return rss;
}

/** Summed peak RSS (VmHWM, KiB) of the live processes of the tree, over their whole life. */
export function treeHwm(roots: readonly number[]): number {
  let hwm = 0;
  for (const st of tree(roots)) if (st.state !== 'Z') hwm += kib(`/proc/${st.pid}/status`, /^VmHWM:\s+(\d+) kB/m);
  return hwm;
}

/** CPU seconds of this process's reaped children (the curl runs). */
export function selfChildrenCpuSeconds(): number {
  const st = readStat('self');
  return st ? (st.cutime + st.cstime) / CLK_TCK : 0;
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const f = (readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const v = (i: number) => f[i] ?? 0;
  // user nice system idle iowait irq softirq steal
  return (v(0) + v(1) + v(2) + v(5) + v(6) + v(7)) / CLK_TCK;
}
