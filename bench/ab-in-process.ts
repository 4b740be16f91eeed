/**
 * A/B of two ftpsd builds in one process, for changes smaller than what `npm run bench` resolves on a
 * shared machine (there the rates and the server's CPU per file move by 15-30 % between runs, with the
 * other tenants). Both builds' `dist/` are loaded side by side:
 *
 * - `files` (default): each build serves the bench's fixtures (`/tmp/bench/home` unless `--root`) on
 *   loopback port 0 with one worker, and the bench's own callback drivers (lib/small-files.ts,
 *   lib/sessions.ts) fetch N small files on one session, then run N sessions (connect, USER, PASS, QUIT),
 *   the builds taking turns. The figure is the process's CPU per file and per session: the client's
 *   share is in it, the same for both builds, so the difference is the server's (the ratio B/A
 *   understates the server's own change).
 * - `storage`: no network, only the storage part of a small download: LocalStorage of each build
 *   `stat` + `read` (or `openRead` where the build has it), the file read to its end through `readInto`
 *   and closed; CPU per file.
 *
 * Rounds alternate which build goes first; the first two rounds are warm-up and left out of the medians.
 *
 *   node --import tsx bench/ab-in-process.ts A/dist B/dist [files|storage] [--rounds 12] [--n 1000] [--root DIR]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openSession } from './lib/ftp-client.js';
import { runSessions } from './lib/sessions.js';
import { runSmall } from './lib/small-files.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { rounds: { type: 'string' }, n: { type: 'string' }, root: { type: 'string' } },
});
const [distA, distB, mode = 'files'] = positionals;
if (!distA || !distB || (mode !== 'files' && mode !== 'storage')) {
  console.error('usage: node --import tsx bench/ab-in-process.ts A/dist B/dist [files|storage] [--rounds 12] [--n 1000] [--root DIR]');
  process.exit(2);
}
const rounds = Number(values.rounds ?? 12);
const n = Number(values.n ?? 1000);
const root = values.root ?? '/tmp/bench/home';
const names = Array.from({ length: n }, (_, i) => `f${String(i % 1000).padStart(5, '0')}`);

/** CPU (user + system) of `run` in ms, divided by `per`. */
async function cpuMs(per: number, run: () => Promise<void>): Promise<number> {
  const t0 = process.cpuUsage();
  await run();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000 / per;
}

type Probe = Record<string, () => Promise<number>>;

async function filesProbe(dist: string): Promise<Probe> {
  const { createServer } = (await import(pathToFileURL(`${dist}/index.js`).href)) as typeof import('../src/index.js');
  const server = createServer({
    listen: '127.0.0.1:0',
    root,
    users: [{ name: 'ab', password: 'ab' }],
    tlsRequired: 'off',
    limits: { maxSessions: 1_000_000, maxSessionsPerAddress: 1_000_000, maxSessionsPerUser: 1_000_000 },
  });
  const port = (await server.listen()).explicit[0]!.port;
  const paths = names.map((name) => `/bench/small/${name}`);
  return {
    file: async () => {
      const f = await openSession({ host: '127.0.0.1', port, user: 'ab', pass: 'ab', tls: false, timeoutMs: 30_000 });
      await f.cmd('TYPE I', (c) => c === 200);
      await runSmall(f, paths.slice(0, 20)); // the session's first transfers
      let done = 0;
      const ms = await cpuMs(n, async () => {
        done = (await runSmall(f, paths)).n;
      });
      f.destroy();
      if (done !== n) throw new Error(`${dist}: ${done} of ${n} files`);
      return ms;
    },
    session: async () => {
      let ok = 0;
      const ms = await cpuMs(n, async () => {
        const r = await runSessions({ host: '127.0.0.1', port, user: 'ab', pass: 'ab', tls: false, total: n, conc: 20 });
        if (r.errors > 0) throw new Error(`${dist}: ${r.errors} sessions failed: ${r.lastErr}`);
        ok = r.ok;
      });
      return (ms * n) / ok;
    },
  };
}

interface StorageLike {
  stat(path: string[]): Promise<{ size: number }>;
  read(path: string[], options: { start: number }): Promise<ReaderLike>;
  openRead?(path: string[], options: { start: number }): Promise<{ stat: { size: number }; stream: ReaderLike }>;
}
interface ReaderLike {
  readInto(buf: Buffer): Promise<number>;
  once(event: 'close', listener: () => void): void;
  destroy(): void;
}

async function storageProbe(dist: string): Promise<Probe> {
  const { LocalStorage } = (await import(pathToFileURL(`${dist}/storage/local.js`).href)) as { LocalStorage: new (root: string) => StorageLike };
  const storage = new LocalStorage(root);
  const buf = Buffer.allocUnsafeSlow(1024 * 1024);
  const one = async (name: string) => {
    const path = ['bench', 'small', name];
    let size: number;
    let stream: ReaderLike;
    if (storage.openRead) ({ stream, stat: { size } } = await storage.openRead(path, { start: 0 }));
    else {
      size = (await storage.stat(path)).size;
      stream = await storage.read(path, { start: 0 });
    }
    let got = 0;
    for (let k = await stream.readInto(buf); k > 0; k = await stream.readInto(buf)) got += k;
    if (got !== size) throw new Error(`${name}: ${got} of ${size} bytes`);
    await new Promise<void>((resolve) => {
      stream.once('close', resolve);
      stream.destroy();
    });
  };
  return {
    'storage part of a file': () =>
      cpuMs(n, async () => {
        for (const name of names) await one(name);
      }),
  };
}

const make = mode === 'files' ? filesProbe : storageProbe;
const builds = { A: await make(distA), B: await make(distB) };
const figures = Object.keys(builds.A);
const runs: Record<string, { A: number[]; B: number[] }> = Object.fromEntries(figures.map((f) => [f, { A: [], B: [] }]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
  for (const figure of figures) for (const build of order) runs[figure]![build].push(await builds[build][figure]!());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const figure of figures) {
  const { A, B } = runs[figure]!;
  const [a, b] = [A.slice(2), B.slice(2)];
  const ratio = median(b.map((x, i) => x / a[i]!));
  console.log(`${figure}: CPU ms, A ${median(a).toFixed(4)} B ${median(b).toFixed(4)}, B/A ${ratio.toFixed(3)} (median of the rounds' ratios)`);
  console.log(`  A runs ${A.map((x) => x.toFixed(4)).join(' ')}`);
  console.log(`  B runs ${B.map((x) => x.toFixed(4)).join(' ')}`);
}
process.exit(0);
