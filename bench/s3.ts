/**
 * `npm run bench -- s3`: ftpsd in front of OpenStack Swift's S3 API (test/services/swift.ts) against the
 * AWS SDK talking to the same Swift directly, in the same run. Prints `name value` lines (medians over
 * the repetitions; each repetition's figures go to stderr):
 * STOR and RETR MB/s through ftpsd (plain and PROT P, with curl) and directly (lib-storage Upload,
 * GetObject), their ratios (each repetition's against the same repetition's SDK figure), ftpsd's peak RSS
 * during the uploads (VmRSS sampled every 100 ms), the CPU seconds per GiB of each process (ftpsd or the
 * SDK's process, curl, Swift's servers), the same for the floor (bench/s3-floor.mjs: a bare Node HTTP or
 * HTTPS server feeding the same SDK, curl as the client), and the time and peak RSS of an MLSD of a
 * directory of N objects.
 *
 * Environment:
 * - BENCH_S3_MIB (1024; 0 skips the transfers), BENCH_S3_REPS (1), BENCH_S3_MODES (`plain,tls`);
 * - BENCH_S3_LIST_N (100000; 0 skips it): one or more sizes, `20000,50000`: the directory is filled up to
 *   each in turn (64 parallel PutObject) and listed each time;
 * - BENCH_S3_FILL (`swift`): how the directory is filled, `swift` (Swift's own API) or `s3` (PutObject);
 * - BENCH_S3_LIST_BUDGET_S (360): a size whose fill would end later than this is skipped;
 * - BENCH_S3_FLOOR (1; 0 skips the floor), BENCH_S3_FLOOR_ARGS: node flags for the floor's processes;
 * - BENCH_S3_FRESH (0): 1 restarts each server (ftpsd, the floor) before each upload, so that its peak RSS
 *   is that of one upload from idle (without it, a download before raises the next upload's peak);
 * - BENCH_S3_VARIANTS: the ftpsd builds compared in one run, `name=node-args` separated by `;`, e.g.
 *   `A=/tmp/x-A/dist/cli/main.js;B=--max-semi-space-size=1 MALLOC_ARENA_MAX=2 dist/cli/main.js` (words
 *   `NAME=value` in capitals are environment variables); default `ftpsd=dist/cli/main.js`.
 *   Every variant runs `serve --workers 1`, one process, so the RSS is that of the process serving.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createS3Client } from '../src/storage/s3/client.js';
import { startSwift } from '../test/services/swift.js';
import { writeRandomFile } from '../test/e2e/helpers.js';
import { readStat, selfChildrenCpuSeconds, treeCpuSeconds } from './lib/proc.js';
import { log, median, out, selfCpuSeconds } from './lib/stats.js';

const MIB = 1024 * 1024;
const BUCKET = 'ftpsd-bench';

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? res(a.port) : rej(new Error('no port'))));
    });
  });
}

function runCurl(args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const c = spawn('curl', ['-q', '--silent', '--show-error', '--fail', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => (code === 0 ? res() : rej(new Error(`curl ${args.join(' ')}: ${code} ${err}`))));
  });
}

async function memKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

function cpuOf(pid: number): number {
  const st = readStat(pid);
  return st ? (st.utime + st.stime) / 100 : 0;
}

interface Phase {
  s: number;
  peakMiB: number;
  /** CPU seconds during the phase: the serving process (ftpsd, the floor, or the SDK's own), curl, Swift. */
  server: number;
  curl: number;
  swift: number;
}

/** Runs `body` while sampling the RSS of `pid` every 100 ms and counting the CPU of every party. */
async function measured(pid: number, swiftPid: number, body: () => Promise<void>): Promise<Phase> {
  let peak = await memKiB(pid);
  const timer = setInterval(() => void memKiB(pid).then((v) => (peak = Math.max(peak, v)), () => {}), 100);
  const self = pid === process.pid;
  const cpu0 = self ? selfCpuSeconds() : cpuOf(pid);
  const curl0 = selfChildrenCpuSeconds();
  const swift0 = treeCpuSeconds([swiftPid]);
  const t0 = process.hrtime.bigint();
  try {
    await body();
  } finally {
    clearInterval(timer);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    s,
    peakMiB: peak / 1024,
    server: (self ? selfCpuSeconds() : cpuOf(pid)) - cpu0,
    curl: selfChildrenCpuSeconds() - curl0,
    swift: treeCpuSeconds([swiftPid]) - swift0,
  };
}

/** Starts a child and resolves once its stdout says it listens. */
async function started(child: ChildProcess, what: string): Promise<void> {
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${what} did not start`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        res();
      }
    });
    child.once('exit', (code) => rej(new Error(`${what} exited ${code}`)));
  });
  child.stdout!.resume();
}

/** PUTs an empty-ish object with Swift's own API (a tempauth token, keep-alive connections). */
async function swiftPutter(endpoint: string, user: string, key: string, container: string): Promise<(name: string) => Promise<void>> {
  const auth = await fetch(`${endpoint}/auth/v1.0`, { headers: { 'X-Auth-User': user, 'X-Auth-Key': key }, signal: AbortSignal.timeout(10_000) });
  const storage = auth.headers.get('x-storage-url');
  const token = auth.headers.get('x-auth-token');
  if (!auth.ok || !storage || !token) throw new Error(`swift auth: ${auth.status}`);
  const agent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  return (name) =>
    new Promise((res, rej) => {
      const req = httpRequest(`${storage}/${container}/${name.split('/').map(encodeURIComponent).join('/')}`, { method: 'PUT', agent, timeout: 30_000, headers: { 'X-Auth-Token': token, 'Content-Length': '1' } }, (r) => {
        r.resume();
        r.on('end', () => (r.statusCode === 201 ? res() : rej(new Error(`swift PUT ${name}: ${r.statusCode}`))));
      });
      req.on('timeout', () => req.destroy(new Error('swift PUT timed out')));
      req.on('error', rej);
      req.end('x');
    });
}

export async function s3Bench(): Promise<number> {
  const mib = Number(process.env.BENCH_S3_MIB ?? 1024);
  const reps = Number(process.env.BENCH_S3_REPS ?? 1);
  const modes = (process.env.BENCH_S3_MODES ?? 'plain,tls').split(',').filter((m) => m === 'plain' || m === 'tls');
  const listNs = (process.env.BENCH_S3_LIST_N ?? '100000').split(',').map(Number).filter((n) => n > 0);
  const withFloor = process.env.BENCH_S3_FLOOR !== '0';
  const variants = (process.env.BENCH_S3_VARIANTS ?? 'ftpsd=dist/cli/main.js').split(';').map((v) => {
    const eq = v.indexOf('=');
    const name = v.slice(0, eq);
    const words = v.slice(eq + 1).trim().split(/\s+/);
    const env = Object.fromEntries(words.filter((w) => /^[A-Z_]+=/.test(w)).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)]));
    const argv = words.filter((w) => !/^[A-Z_]+=/.test(w));
    argv[argv.length - 1] = resolve(argv[argv.length - 1]!);
    return { name, argv, env };
  });
  const work = await mkdtemp(join(tmpdir(), 'ftpsd-s3-bench-'));
  const swift = await startSwift();
  const client = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey });
  const awsEnv = { AWS_ENDPOINT_URL: swift.endpoint, AWS_REGION: swift.region, AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.secretAccessKey };
  const children: ChildProcess[] = [];
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const file = join(work, 'data.bin');
    if (mib > 0) await writeRandomFile(file, mib * MIB);
    // Each server is (re)started by `start()`; with BENCH_S3_FRESH=1 before each upload, so its peak RSS is
    // that of one upload from idle, not raised by the transfers before it.
    interface Served {
      name: string;
      pid: number;
      url: string;
      start: () => Promise<void>;
    }
    const launch = async (s: Served, what: string, argv: string[], env: NodeJS.ProcessEnv, url: (out: string) => string): Promise<void> => {
      const old = children.find((c) => c.pid === s.pid);
      if (old && old.exitCode === null) {
        const gone = new Promise((res) => old.once('exit', res));
        old.kill('SIGTERM');
        await gone;
      }
      const child = spawn(process.execPath, argv, { env: { ...process.env, ...awsEnv, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      let said = '';
      child.stdout!.on('data', (d: Buffer) => (said += d.toString().slice(0, 1000)));
      await started(child, what);
      s.pid = child.pid!;
      s.url = url(said);
    };
    const servers: Served[] = variants.map((v) => {
      const s: Served = {
        name: v.name,
        pid: 0,
        url: '',
        start: async () => {
          const port = await freePort();
          await launch(s, `ftpsd ${v.name}`, [...v.argv, 'serve', '--root', `s3://${BUCKET}/ftp`, '--listen', `127.0.0.1:${port}`, '--implicit-listen', 'off', '--user', 'bench:bench-pw', '--tls-required', 'off', '--state-dir', join(work, `state-${v.name}`), '--log-level', 'warn', '--workers', '1'], v.env, () => `ftp://127.0.0.1:${port}`);
        },
      };
      return s;
    });
    const floors: (Served & { tls: string[] })[] = [];
    if (withFloor && mib > 0) {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', join(work, 'key.pem'), '-out', join(work, 'cert.pem')], { stdio: 'ignore' });
      for (const mode of modes) {
        const tlsEnv = mode === 'tls' ? { FLOOR_TLS_KEY: join(work, 'key.pem'), FLOOR_TLS_CERT: join(work, 'cert.pem') } : {};
        const f: Served & { tls: string[] } = {
          name: mode,
          pid: 0,
          url: '',
          tls: mode === 'tls' ? ['--insecure'] : [],
          start: () => launch(f, `floor ${mode}`, [...(process.env.BENCH_S3_FLOOR_ARGS ?? '').split(/\s+/).filter(Boolean), resolve('bench/s3-floor.mjs')], { ...tlsEnv, FLOOR_BUCKET: BUCKET }, (said) => `${mode === 'tls' ? 'https' : 'http'}://127.0.0.1:${/listening (\d+)/.exec(said)?.[1]}`),
        };
        floors.push(f);
      }
    }
    for (const s of [...servers, ...floors]) await s.start();
    const fresh = process.env.BENCH_S3_FRESH === '1';
    out('#', `s3 bench: ${mib} MiB x ${reps} reps, MLSD of ${listNs.join(',') || 0} objects, partSizeMiB 8 x queueSize 4, Swift on loopback`);
    // The floor: ftpsd started (the SDK loaded, the bucket checked), no session yet.
    await new Promise((res) => setTimeout(res, 1000));
    for (const s of servers) out(`s3_${s.name}_idle_rss_MiB`, ((await memKiB(s.pid)) / 1024).toFixed(0));
    for (const f of floors) out(`s3_floor_${f.name}_idle_rss_MiB`, ((await memKiB(f.pid)) / 1024).toFixed(0));

    const runs = new Map<string, Phase[]>();
    const ratios = new Map<string, number[]>();
    const record = (name: string, p: Phase, ref?: Phase): void => {
      const GiB = (mib * MIB) / 1024 ** 3;
      log(`${name}: ${((mib * MIB) / 1e6 / p.s).toFixed(1)} MB/s, peak ${p.peakMiB.toFixed(0)} MiB, CPU s/GiB server ${(p.server / GiB).toFixed(2)} curl ${(p.curl / GiB).toFixed(2)} swift ${(p.swift / GiB).toFixed(2)}`);
      runs.set(name, [...(runs.get(name) ?? []), p]);
      if (ref) ratios.set(name, [...(ratios.get(name) ?? []), ref.s / p.s]);
    };
    for (let rep = 1; rep <= reps && mib > 0; rep++) {
      log(`repetition ${rep}/${reps}`);
      // Direct SDK, the reference: lib-storage Upload (8 MiB x 4, as ftpsd's defaults) and GetObject.
      const sdkUp = await measured(process.pid, swift.pid, async () => {
        await new Upload({ client, params: { Bucket: BUCKET, Key: 'sdk.bin', Body: createReadStream(file) }, partSize: 8 * MIB, queueSize: 4 }).done();
      });
      record('sdk_put', sdkUp);
      const sdkDown = await measured(process.pid, swift.pid, async () => {
        const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sdk.bin' }));
        for await (const _ of got.Body as AsyncIterable<Buffer>) void _;
      });
      record('sdk_get', sdkDown);
      for (const mode of modes) {
        const extra = mode === 'tls' ? ['--ssl-reqd', '--insecure'] : [];
        for (const s of servers) {
          const tag = servers.length > 1 ? `${s.name}_` : '';
          const user = ['--user', 'bench:bench-pw'];
          if (fresh) await s.start();
          record(`${tag}stor_${mode}`, await measured(s.pid, swift.pid, () => runCurl([...user, ...extra, '-T', file, `${s.url}/${s.name}-${mode}.bin`])), sdkUp);
          record(`${tag}retr_${mode}`, await measured(s.pid, swift.pid, () => runCurl([...user, ...extra, '-o', '/dev/null', `${s.url}/${s.name}-${mode}.bin`])), sdkDown);
        }
        const f = floors.find((x) => x.name === mode);
        if (f) {
          if (fresh) await f.start();
          record(`floor_stor_${mode}`, await measured(f.pid, swift.pid, () => runCurl([...f.tls, '-T', file, `${f.url}/floor-${mode}.bin`])), sdkUp);
          record(`floor_retr_${mode}`, await measured(f.pid, swift.pid, () => runCurl([...f.tls, '-o', '/dev/null', `${f.url}/floor-${mode}.bin`])), sdkDown);
        }
      }
    }
    const GiB = (mib * MIB) / 1024 ** 3;
    for (const [name, ps] of runs) {
      out(`s3_${name}_MBps`, ((mib * MIB) / 1e6 / median(ps.map((p) => p.s))).toFixed(1));
      const r = ratios.get(name);
      if (r) out(`s3_${name}_ratio_vs_sdk`, median(r).toFixed(2));
      if (name.includes('stor') || name === 'sdk_put') out(`s3_${name}_peak_rss_MiB`, median(ps.map((p) => p.peakMiB)).toFixed(0));
      out(`s3_${name}_cpu_s_per_GiB`, `${median(ps.map((p) => p.server / GiB)).toFixed(2)} curl ${median(ps.map((p) => p.curl / GiB)).toFixed(2)} swift ${median(ps.map((p) => p.swift / GiB)).toFixed(2)}`);
    }
    // ftpsd against the floor, repetition by repetition (the same data, one after the other).
    for (const mode of modes) {
      for (const s of servers) {
        const tag = servers.length > 1 ? `${s.name}_` : '';
        for (const dir of ['stor', 'retr']) {
          const mine = runs.get(`${tag}${dir}_${mode}`);
          const floor = runs.get(`floor_${dir}_${mode}`);
          if (mine && floor) out(`s3_${tag}${dir}_${mode}_ratio_vs_floor`, median(mine.map((p, i) => floor[i]!.s / p.s)).toFixed(2));
        }
      }
    }

    let filled = 0;
    // BENCH_S3_FILL=s3 puts them with PutObject through s3api (about 100 a second here: the proxy checks a
    // SigV4 signature per request in Python); `swift` (default) with Swift's own API and a tempauth token,
    // the same objects in the same container at a lower cost per request. The listing is through ftpsd either way.
    const fillS3 = process.env.BENCH_S3_FILL === 's3';
    const put = fillS3
      ? (key: string) => client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'x', ContentLength: 1 })).then(() => {})
      : await swiftPutter(swift.endpoint, swift.accessKeyId, swift.secretAccessKey, BUCKET);
    // Sizes whose filling would end after BENCH_S3_LIST_BUDGET_S (360) are skipped, estimated at the rate
    // of the step before: the bench's locked slot on a shared machine is short.
    const budgetS = Number(process.env.BENCH_S3_LIST_BUDGET_S ?? 360);
    const listStart = Date.now();
    let rate = Infinity;
    for (const listN of listNs) {
      if ((Date.now() - listStart) / 1000 + (listN - filled) / rate > budgetS) {
        log(`skipping ${listN} objects: at ${rate.toFixed(0)} a second the fill would overrun BENCH_S3_LIST_BUDGET_S`);
        break;
      }
      // The objects are put directly, 64 requests at a time (a pool, not batches): Swift takes them at its pace.
      log(`putting objects ${filled} to ${listN} (${fillS3 ? 's3' : 'swift'}) ...`);
      const t0 = Date.now();
      let next = filled;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let i = next++; i < listN; i = next++) await put(`ftp/many/o-${String(i).padStart(7, '0')}`);
        }),
      );
      const fillS = (Date.now() - t0) / 1000;
      rate = (listN - filled) / fillS;
      log(`put ${listN - filled} objects in ${fillS.toFixed(0)} s (${rate.toFixed(0)} a second)`);
      out(`s3_fill_${listN}_per_s`, rate.toFixed(0));
      filled = listN;
      for (const s of servers) {
        const tag = servers.length > 1 ? `${s.name}_` : '';
        if (fresh) await s.start();
        const p = await measured(s.pid, swift.pid, () => runCurl(['--user', 'bench:bench-pw', '-X', 'MLSD', '-o', '/dev/null', `${s.url}/many/`]));
        out(`s3_${tag}mlsd_${listN}_s`, p.s.toFixed(2));
        out(`s3_${tag}mlsd_${listN}_peak_rss_MiB`, p.peakMiB.toFixed(0));
        out(`s3_${tag}mlsd_${listN}_cpu_s`, `${p.server.toFixed(2)} swift ${p.swift.toFixed(2)}`);
      }
    }
    return 0;
  } finally {
    for (const c of children) c.kill('SIGTERM');
    client.destroy();
    await swift.stop();
    await rm(work, { recursive: true, force: true });
  }
}
