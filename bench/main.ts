/**
 * `npm run bench [-- options]`: measures ftpsd (or another server) and prints one `name value` line per
 * figure on stdout (medians of BENCH_REPS runs; progress on stderr). `npm run bench -- compare ...` runs
 * ftpsd and the anchor servers interleaved and prints a table with ratio columns (see compare.ts).
 * How to run it and what every figure means: docs/performance.md.
 */
import { existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { compare } from './compare.js';
import { s3Bench } from './s3.js';
import { footprint } from './lib/footprint.js';
import { argon2Sessions, argon2Verifies, benchConfig } from './lib/config.js';
import { ensureFixtures, fixtureDir } from './lib/fixtures.js';
import { limits } from './lib/limits.js';
import { loginCost } from './lib/login-cost.js';
import { scaling } from './lib/scaling.js';
import { userDbLogins } from './lib/user-db-logins.js';
import { MAIN_JS, ensureBuilt, kitCertificate, kitRoot, rsaCertificate, startAnchor, startFtpsd, type FtpsdOptions, type Target } from './lib/servers.js';
import { manyNodes } from './lib/nodes.js';
import { firstLine, log, out, selfCpuSeconds, fmt } from './lib/stats.js';
import { Runner, WORKLOADS, type Workload } from './lib/workloads.js';
import { wgetTree } from './lib/wget-tree.js';

const EXTRA = ['argon2', 'limits', 'nodes', 'scaling', 'userdb', 'wget'] as const;
type Step = Workload | (typeof EXTRA)[number];

const USAGE = `usage: npm run bench -- [run] [options]      measure ftpsd (default) or another server
       npm run bench -- compare [options]    ftpsd and the anchors, interleaved (see docs/performance.md)
       npm run bench -- s3                   ftpsd over S3 (Swift) against the AWS SDK direct (bench/s3.ts)
       npm run bench -- footprint [--ftpsd FILE] [--no-build]
                                             idle process memory of ftpsd (--workers 1, default) and of
                                             bare Node programs (bench/lib/footprint.ts; BENCH_SETTLE_S 30)

run options:
  --mode plain|tls|both       (both) plain FTP and/or explicit FTPS (AUTH TLS, PROT P)
  --only LIST                 workloads: ${[...WORKLOADS, ...EXTRA].join(',')} (env BENCH_ONLY;
                              default all; argon2, limits, nodes, scaling and userdb only for ftpsd)
  --reps N                    repetitions, medians are printed (env BENCH_REPS, 3)
  --root DIR                  local path of the FTP root; fixtures go to DIR/bench (env BENCH_ROOT)
  --host H --port P [--user U --pass P --pid PID[,PID]]
                              measure a running server instead of starting ftpsd (--pid: the roots of
                              its process tree, for server CPU and memory)
  --anchor NAME               start and measure an anchor with the kit (vsftpd, proftpd, pure-ftpd,
                              pyftpdlib, ftp-srv); needs --anchor-kit DIR or env BENCH_ANCHOR_KIT
  --cert FILE --key FILE      ftpsd's certificate (default: the kit's RSA-2048 cert when set up, else
                              a generated RSA-2048 one in the state directory)
  --pasv-ports MIN-MAX        ftpsd's passive ports (env BENCH_PASV_PORTS, 31850-31999)
  --state-dir DIR             scratch directory (env BENCH_STATE_DIR, $TMPDIR/ftpsd-bench)
  --log-level LEVEL           ftpsd's log level (warn)
  --cpu-prof DIR              run ftpsd under node --cpu-prof, profiles written to DIR at exit
  --ftpsd FILE                ftpsd entry point to run (default dist/cli/main.js), e.g. another build
  --no-build                  do not run "npm run build" when dist/ is older than src/

compare options:
  --anchor-kit DIR            the anchor kit (env BENCH_ANCHOR_KIT, /tmp/anchor-bench)
  --servers LIST              anchors (vsftpd,proftpd,pure-ftpd,pyftpdlib,ftp-srv)
  --reps N (3) --modes plain,tls --only LIST --out DIR (bench/results/<time>) --no-build
  --table-from DIR[,DIR]      re-render (and merge) earlier results without measuring
  BENCH_INNER_REPS (1): runs per (server, mode, repetition)

sizes (env): BENCH_BIG_MIB (1024) BENCH_SESSIONS (2000) BENCH_CONCURRENCY (50) BENCH_CLIENT_PROCS (1)
  BENCH_SMALL_FILES (1000) BENCH_SMALL_MAX_S (120) BENCH_LIST_ENTRIES (10000) BENCH_IDLE_SESSIONS (500)
  BENCH_ARGON2_SESSIONS (200) BENCH_ARGON2_VERIFIES (20) BENCH_CURL (curl) BENCH_TIMEOUT_S (60: reply timeout)
  BENCH_NODE_ARGS: node flags for ftpsd (e.g. V8 flags, for A/B runs)
  BENCH_WORKERS (1): ftpsd's --workers for every workload but scaling (a number or auto)
  BENCH_USERDB_LOGINS (200) BENCH_USERDB_CONCURRENCY (8)
  BENCH_SCALING_CLIENTS (4) BENCH_SCALING_MIB (256) BENCH_SCALING_WORKERS (one per core, at least 2)
`;

async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      mode: { type: 'string', default: 'both' },
      only: { type: 'string' },
      reps: { type: 'string' },
      root: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      user: { type: 'string' },
      pass: { type: 'string' },
      pid: { type: 'string' },
      anchor: { type: 'string' },
      'anchor-kit': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'pasv-ports': { type: 'string' },
      'state-dir': { type: 'string' },
      'log-level': { type: 'string' },
      'cpu-prof': { type: 'string' },
      ftpsd: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const c = benchConfig(v.reps !== undefined ? Number(v.reps) : undefined);
  const modes = v.mode === 'both' ? [false, true] : v.mode === 'plain' ? [false] : v.mode === 'tls' ? [true] : undefined;
  if (!modes) throw new Error(`--mode: plain, tls or both, not ${v.mode}`);
  const kind = v.port !== undefined ? 'external' : v.anchor !== undefined ? 'anchor' : 'ftpsd';
  // CPU and memory come from /proc and fixtures are written into the server's root: the server
  // must run on this machine, and the bench only talks to loopback.
  if (v.host !== undefined && !/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(v.host)) {
    throw new Error(`--host ${v.host}: only loopback addresses (the server must run on this machine)`);
  }
  const onlyText = v.only ?? process.env.BENCH_ONLY;
  const all: Step[] = [...WORKLOADS, ...(kind === 'ftpsd' ? EXTRA : [])];
  const only = new Set<Step>(onlyText ? (onlyText.split(',').filter(Boolean) as Step[]) : all);
  for (const w of only) if (![...WORKLOADS, ...EXTRA].includes(w)) throw new Error(`--only: unknown workload ${w}`);
  const stateDir = resolve(v['state-dir'] ?? process.env.BENCH_STATE_DIR ?? join(tmpdir(), 'ftpsd-bench'));
  const kit = v['anchor-kit'] ?? process.env.BENCH_ANCHOR_KIT;

  // The FTP root (fixtures in ROOT/bench): the kit's home for an anchor; else --root, else the kit's
  // home when it exists (fixtures shared with the anchors), else one in the state directory.
  const root =
    kind === 'anchor'
      ? kitRoot()
      : resolve(v.root ?? process.env.BENCH_ROOT ?? (existsSync(kitRoot()) ? kitRoot() : join(stateDir, 'home')));

  let ftpsdOpts: FtpsdOptions | undefined;
  if (kind === 'ftpsd') {
    if (!v['no-build'] && !process.env.BENCH_NO_BUILD && !v.ftpsd) ensureBuilt();
    const pair = v.cert && v.key ? { cert: resolve(v.cert), key: resolve(v.key) } : (kitCertificate() ?? (await rsaCertificate(join(stateDir, 'tls'))));
    ftpsdOpts = {
      root,
      ...pair,
      user: 'bench',
      pass: 'benchpass',
      pasvPorts: v['pasv-ports'] ?? process.env.BENCH_PASV_PORTS ?? '31850-31999',
      cwd: stateDir,
      logLevel: v['log-level'] ?? 'warn',
      nodeArgs: [...(process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []), ...(v['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(v['cpu-prof'])] : [])],
      ...(v.ftpsd ? { main: resolve(v.ftpsd) } : {}),
    };
  }

  const start = (): Promise<Target> => {
    if (kind === 'external') {
      return Promise.resolve({
        name: v.host ?? '127.0.0.1',
        host: v.host ?? '127.0.0.1',
        port: Number(v.port),
        user: v.user ?? 'ftpbench',
        pass: v.pass ?? 'benchpass',
        root,
        pids: (v.pid ?? '').split(/[\s,]+/).filter(Boolean).map(Number),
        stop: async () => {},
      });
    }
    if (kind === 'anchor') {
      if (!kit) throw new Error('--anchor needs --anchor-kit DIR (or env BENCH_ANCHOR_KIT)');
      return Promise.resolve(startAnchor(resolve(kit), v.anchor!));
    }
    return startFtpsd(ftpsdOpts!);
  };

  const needFixtures = [...only].some((w) => w !== 'argon2' && w !== 'userdb' && w !== 'nodes');
  if (needFixtures) ensureFixtures(root, { bigMiB: c.bigMiB, small: c.small, smallSize: c.smallSize, listN: c.listN });

  out('# ftpsd bench', `${new Date().toISOString()} target=${kind === 'ftpsd' ? 'ftpsd' : kind === 'anchor' ? v.anchor : `${v.host ?? '127.0.0.1'}:${v.port}`}`);
  out('#', `reps=${c.reps} big_MiB=${c.bigMiB} sessions=${c.sessions} concurrency=${c.conc} small_files=${c.small} list_entries=${c.listN} idle_sessions=${c.idle} node=${process.version} cpus=${cpus().length}x${cpus()[0]?.model ?? '?'}`);
  let failed = 0;
  const workloads = new Set([...only].filter((w): w is Workload => (WORKLOADS as readonly string[]).includes(w)));
  if (workloads.size > 0) {
    let shared: Target | undefined;
    for (const tls of modes) {
      // A fresh server per mode (the memory figures want one), except a server given by address.
      const t = kind === 'external' ? (shared ??= await start()) : await start();
      log(`${t.name} ${tls ? 'tls' : 'plain'}: 127.0.0.1:${t.port}, pids ${t.pids.join(',') || 'unknown'}`);
      try {
        failed += await new Runner(t, tls, c).run(workloads);
      } finally {
        await t.stop();
      }
    }
  }
  if (only.has('argon2')) {
    try {
      const hash = await loginCost(argon2Verifies());
      if (ftpsdOpts) {
        // Sessions with a config-file user (argon2id hash): the login cost inside the session figure.
        for (const tls of modes) {
          const t = await startFtpsd({ ...ftpsdOpts, argon2Hash: hash });
          try {
            await new Runner(t, tls, { ...c, sessions: argon2Sessions() }).sessions('sessions_argon2');
          } finally {
            await t.stop();
          }
        }
      }
    } catch (e) {
      failed++;
      log(`argon2 FAILED: ${firstLine(e)}`);
      out('argon2_failed', JSON.stringify(firstLine(e)));
    }
  }
  if (only.has('limits')) {
    try {
      const pair = ftpsdOpts?.cert ? ftpsdOpts : (kitCertificate() ?? (await rsaCertificate(join(stateDir, 'tls'))));
      await limits(join(fixtureDir(root), 'big.bin'), pair.cert, pair.key, c.reps);
    } catch (e) {
      failed++;
      log(`limits FAILED: ${firstLine(e)}`);
      out('limits_failed', JSON.stringify(firstLine(e)));
    }
  }
  if (only.has('wget')) {
    try {
      failed += await wgetTree(start);
    } catch (e) {
      failed++;
      log(`wget FAILED: ${firstLine(e)}`);
      out('wget_failed', JSON.stringify(firstLine(e)));
    }
  }
  if (only.has('scaling') && ftpsdOpts) {
    try {
      await scaling((workers) => startFtpsd({ ...ftpsdOpts, workers }), root, c.reps, c.curl);
    } catch (e) {
      failed++;
      log(`scaling FAILED: ${firstLine(e)}`);
      out('scaling_failed', JSON.stringify(firstLine(e)));
    }
  }
  if (only.has('userdb') && ftpsdOpts) {
    try {
      await userDbLogins(Number(process.env.BENCH_USERDB_LOGINS ?? 200));
    } catch (e) {
      failed++;
      log(`userdb FAILED: ${firstLine(e)}`);
      out('userdb_failed', JSON.stringify(firstLine(e)));
    }
  }
  if (only.has('nodes') && ftpsdOpts) {
    try {
      await manyNodes(c.reps, c.curl);
    } catch (e) {
      failed++;
      log(`nodes FAILED: ${firstLine(e)}`);
      out('nodes_failed', JSON.stringify(firstLine(e)));
    }
  }
  out('run_cpu_s', fmt(selfCpuSeconds(), 2));
  return failed ? 1 : 0;
}

/** `footprint`: idle process memory (bench/lib/footprint.ts). */
async function footprintCommand(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: { ftpsd: { type: 'string' }, 'no-build': { type: 'boolean' }, 'state-dir': { type: 'string' } } });
  if (!v['no-build'] && !process.env.BENCH_NO_BUILD && !v.ftpsd) ensureBuilt();
  const stateDir = resolve(v['state-dir'] ?? process.env.BENCH_STATE_DIR ?? join(tmpdir(), 'ftpsd-bench'));
  const pair = kitCertificate() ?? (await rsaCertificate(join(stateDir, 'tls')));
  await footprint({ main: v.ftpsd ? resolve(v.ftpsd) : MAIN_JS, stateDir, ...pair });
  return 0;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const cmd = argv[0] === 'compare' || argv[0] === 'run' || argv[0] === 's3' || argv[0] === 'footprint' ? argv.shift() : 'run';
  try {
    process.exitCode = cmd === 'compare' ? await compare(argv) : cmd === 's3' ? await s3Bench() : cmd === 'footprint' ? await footprintCommand(argv) : await run(argv);
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    process.exitCode = 2;
  }
}

await main();
