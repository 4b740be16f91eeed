/**
 * `npm run bench -- compare`: ftpsd and the anchors of the anchor kit, measured in the same run and
 * interleaved: every repetition visits every server (order rotated per repetition, so slow drifts of a
 * shared machine hit all alike), and every (server, mode) gets a freshly started server and one run of
 * `main.ts run` (BENCH_INNER_REPS runs, default 1). Prints a markdown table of medians with ratio columns
 * ftpsd/anchor and writes it (table.md), results.json and each run's raw output to the results directory.
 * `--table-from DIR1,DIR2` re-renders (and merges) earlier runs without measuring.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ANCHORS, BENCH_DIR, ensureBuilt } from './lib/servers.js';
import { log, median } from './lib/stats.js';

const SELF = 'ftpsd';
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

interface Results {
  reps: number;
  modes: string[];
  servers: string[];
  date: string;
  settings: string;
  /** results[server][figure] = values, one per run */
  results: Record<string, Record<string, string[]>>;
}

function runChild(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const ch = spawn(process.execPath, [...process.execArgv, MAIN, 'run', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    ch.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    ch.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      process.stderr.write(d);
    });
    ch.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function collect(into: Record<string, string[]>, stdout: string): void {
  for (const line of stdout.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line);
    if (!m || m[1]!.startsWith('#') || m[1]!.endsWith('_runs') || m[1] === 'run_cpu_s') continue;
    (into[m[1]!] ??= []).push(m[2]!);
  }
}

export async function compare(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      'anchor-kit': { type: 'string' },
      servers: { type: 'string' },
      reps: { type: 'string', default: '3' },
      modes: { type: 'string', default: 'plain,tls' },
      only: { type: 'string' },
      out: { type: 'string' },
      'table-from': { type: 'string' },
      'no-build': { type: 'boolean', default: false },
    },
  });
  if (v['table-from']) {
    const merged = merge(v['table-from'].split(',').map((d) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')) as Results));
    process.stdout.write(render(merged));
    return 0;
  }
  const kit = resolve(v['anchor-kit'] ?? process.env.BENCH_ANCHOR_KIT ?? '/tmp/anchor-bench');
  if (!existsSync(join(kit, 'servers'))) throw new Error(`no anchor kit at ${kit} (--anchor-kit DIR or env BENCH_ANCHOR_KIT)`);
  const anchors = (v.servers ?? ANCHORS.join(',')).split(',').filter(Boolean);
  const servers = [SELF, ...anchors];
  const modes = v.modes.split(',').filter(Boolean);
  const reps = Number(v.reps);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(v.out ?? join(BENCH_DIR, 'results', stamp));
  mkdirSync(outDir, { recursive: true });
  if (!v['no-build'] && !process.env.BENCH_NO_BUILD) ensureBuilt();
  const env = { ...process.env, BENCH_REPS: process.env.BENCH_INNER_REPS ?? '1', BENCH_ANCHOR_KIT: kit, BENCH_NO_BUILD: '1' };
  const only = v.only ? ['--only', v.only.split(',').filter((w) => w !== 'argon2' && w !== 'limits').join(',')] : ['--only', 'mem,sessions,small,list,retr,stor'];
  const r: Results = {
    reps,
    modes,
    servers,
    date: new Date().toISOString(),
    settings: settings(),
    results: {},
  };
  let failures = 0;
  const t0 = Date.now();
  if (only[1]) {
    for (let rep = 0; rep < reps; rep++) {
      const order = servers.map((_, i) => servers[(i + rep) % servers.length]!);
      for (const s of order) {
        for (const mode of modes) {
          log(`compare: rep ${rep + 1}/${reps} ${s} ${mode}`);
          const args = ['--mode', mode, ...only, ...(s === SELF ? [] : ['--anchor', s, '--anchor-kit', kit])];
          const res = await runChild(args, env);
          const file = join(outDir, `${s}-${mode}-rep${rep + 1}.txt`);
          writeFileSync(file, `${res.stdout}\n# stderr\n${res.stderr}`);
          if (res.code !== 0) {
            failures++;
            log(`compare: ${s} ${mode} exited with ${res.code} (see ${file})`);
          }
          collect((r.results[s] ??= {}), res.stdout);
        }
      }
      log(`compare: rep ${rep + 1} done after ${((Date.now() - t0) / 60000).toFixed(1)} min`);
    }
  }
  // ftpsd-only figures, once: the argon2id login cost and the machine's reference limits.
  const extra = v.only ? v.only.split(',').filter((w) => w === 'argon2' || w === 'limits') : ['argon2', 'limits'];
  if (extra.length) {
    log(`compare: ${extra.join(', ')}`);
    const res = await runChild(['--mode', modes.length === 1 ? modes[0]! : 'both', '--only', extra.join(',')], { ...env, BENCH_REPS: String(reps) });
    writeFileSync(join(outDir, `${SELF}-${extra.join('-')}.txt`), `${res.stdout}\n# stderr\n${res.stderr}`);
    if (res.code !== 0) failures++;
    collect((r.results[SELF] ??= {}), res.stdout);
  }
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(r, null, 1));
  const table = render(r);
  writeFileSync(join(outDir, 'table.md'), table);
  process.stdout.write(table);
  log(`compare: results in ${outDir}`);
  return failures ? 1 : 0;
}

function settings(): string {
  const e = process.env;
  const g = (k: string, d: string) => e[k] || d;
  return (
    `BENCH_INNER_REPS=${g('BENCH_INNER_REPS', '1')} BENCH_BIG_MIB=${g('BENCH_BIG_MIB', '1024')} BENCH_SESSIONS=${g('BENCH_SESSIONS', '2000')} ` +
    `BENCH_CONCURRENCY=${g('BENCH_CONCURRENCY', '50')} BENCH_SMALL_FILES=${g('BENCH_SMALL_FILES', '1000')} BENCH_LIST_ENTRIES=${g('BENCH_LIST_ENTRIES', '10000')} ` +
    `BENCH_IDLE_SESSIONS=${g('BENCH_IDLE_SESSIONS', '500')}; node ${process.version}; ${cpus().length} x ${cpus()[0]?.model ?? '?'}`
  );
}

function merge(list: Results[]): Results {
  const out: Results = { reps: 0, modes: [], servers: [], date: list.map((x) => x.date).join(', '), settings: list[0]?.settings ?? '', results: {} };
  for (const j of list) {
    out.reps += j.reps;
    for (const m of j.modes) if (!out.modes.includes(m)) out.modes.push(m);
    for (const s of j.servers) if (!out.servers.includes(s)) out.servers.push(s);
    for (const [s, kv] of Object.entries(j.results)) for (const [k, vals] of Object.entries(kv)) ((out.results[s] ??= {})[k] ??= []).push(...vals);
  }
  return out;
}

function fmtNum(m: number): string {
  if (Number.isInteger(m)) return String(m);
  const a = Math.abs(m);
  return m.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

function cell(vals: string[] | undefined): string {
  if (!vals || vals.length === 0) return '—';
  const nums = vals.map(Number);
  const fin = nums.filter(Number.isFinite);
  if (fin.length && vals.every((x, i) => Number.isFinite(nums[i]) || x === 'NA')) {
    return fmtNum(median(fin)) + (fin.length < vals.length ? ` (${fin.length}/${vals.length} ok)` : '');
  }
  if (vals.every((x) => x === 'NA')) return 'NA';
  return [...new Set(vals)].join('/');
}

/** Bookkeeping rows (counts, noise flags, command names, the load client's own CPU) get no ratio. */
const NO_RATIO = /(_errors|_failed|_other_cpu_pct|_files_done|_procs(_\d+)?|_sessions_open|_lines|_cmd|_login_retries|_params)$|_client_cpu_/;

const ORDER = ['retr', 'stor', 'sessions', 'sessions_argon2', 'small', 'list', 'LIST', 'mem', 'server', 'login', 'limit'];

function render(r: Results): string {
  const names = r.servers.includes(SELF) ? [SELF, ...r.servers.filter((s) => s !== SELF)] : r.servers;
  const anchors = names.filter((n) => n !== SELF);
  const keys: string[] = [];
  for (const n of names) for (const k of Object.keys(r.results[n] ?? {})) if (!keys.includes(k)) keys.push(k);
  const rank = (k: string): [number, number] => {
    let w = -1;
    ORDER.forEach((p, i) => {
      if (k.startsWith(p + '_')) w = i; // the longest matching prefix wins (sessions_argon2 over sessions)
    });
    return [w < 0 ? 99 : w, k.includes('_tls') ? 1 : 0];
  };
  keys.sort((a, b) => {
    const [wa, ma] = rank(a);
    const [wb, mb] = rank(b);
    return wa - wb || ma - mb || a.localeCompare(b);
  });
  const hasSelf = names.includes(SELF);
  let md = `# ftpsd vs anchors: medians of ${r.reps} repetition(s), ${r.date}\n# ${r.settings}\n`;
  if (hasSelf && anchors.length) md += `# ratio columns: ${SELF} / anchor (for figures ending _s, _cpu_*, _KiB*, _ms*: lower is better)\n`;
  md += `\n| figure | ${names.join(' | ')}${hasSelf ? anchors.map((a) => ` | ${SELF}/${a}`).join('') : ''} |\n`;
  md += `|---|${names.map(() => '---:').join('|')}${hasSelf ? anchors.map(() => '|---:').join('') : ''}|\n`;
  for (const k of keys) {
    const row = names.map((n) => cell(r.results[n]?.[k]));
    let ratios = '';
    if (hasSelf && NO_RATIO.test(k)) {
      ratios = anchors.map(() => ' | ').join('');
    } else if (hasSelf) {
      const x = median((r.results[SELF]?.[k] ?? []).map(Number));
      ratios = anchors
        .map((a) => {
          const y = median((r.results[a]?.[k] ?? []).map(Number));
          return ` | ${Number.isFinite(x) && Number.isFinite(y) && y !== 0 ? (x / y).toFixed(2) : '—'}`;
        })
        .join('');
    }
    md += `| ${k} | ${row.join(' | ')}${ratios} |\n`;
  }
  return md;
}
