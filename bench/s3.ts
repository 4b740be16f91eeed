/**
 * `npm run bench -- s3`: ftpsd in front of OpenStack Swift's S3 API (test/services/swift.ts) against the
 * AWS SDK talking to the same Swift directly, in the same run. Prints `name value` lines:
 * STOR and RETR MB/s through ftpsd (plain and PROT P, with curl) and directly (lib-storage Upload,
 * GetObject), their ratios, ftpsd's peak RSS during the uploads (VmHWM), and the time and peak RSS of an
 * MLSD of a directory of BENCH_S3_LIST_N objects. Sizes: BENCH_S3_MIB (1024), BENCH_S3_LIST_N (100000).
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createS3Client } from '../src/storage/s3/client.js';
import { startSwift } from '../test/services/swift.js';
import { writeRandomFile } from '../test/e2e/helpers.js';
import { log, out } from './lib/stats.js';

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
    const c = spawn('curl', ['-q', '--silent', '--show-error', '--user', 'bench:bench-pw', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => (code === 0 ? res() : rej(new Error(`curl ${args.join(' ')}: ${code} ${err}`))));
  });
}

async function memKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

/** Runs `body` while sampling the RSS of `pid` every 100 ms; resolves to [seconds, peak RSS MiB]. */
async function measured(pid: number, body: () => Promise<void>): Promise<[number, number]> {
  let peak = await memKiB(pid, 'VmRSS');
  const timer = setInterval(() => void memKiB(pid, 'VmRSS').then((v) => (peak = Math.max(peak, v)), () => {}), 100);
  const t0 = process.hrtime.bigint();
  try {
    await body();
  } finally {
    clearInterval(timer);
  }
  return [Number(process.hrtime.bigint() - t0) / 1e9, peak / 1024];
}

export async function s3Bench(): Promise<number> {
  const mib = Number(process.env.BENCH_S3_MIB ?? 1024);
  const listN = Number(process.env.BENCH_S3_LIST_N ?? 100_000);
  const work = await mkdtemp(join(tmpdir(), 'ftpsd-s3-bench-'));
  const swift = await startSwift();
  const client = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey });
  let ftpsd: ChildProcess | undefined;
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const file = join(work, 'data.bin');
    await writeRandomFile(file, mib * MIB);
    const port = await freePort();
    ftpsd = spawn(process.execPath, [resolve('dist/cli/main.js'), 'serve', '--root', `s3://${BUCKET}/ftp`, '--listen', `127.0.0.1:${port}`, '--implicit-listen', 'off', '--user', 'bench:bench-pw', '--tls-required', 'off', '--state-dir', join(work, 'state'), '--log-level', 'warn', '--workers', '1'], {
      env: { ...process.env, AWS_ENDPOINT_URL: swift.endpoint, AWS_REGION: swift.region, AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.secretAccessKey },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((res, rej) => {
      ftpsd!.stdout!.on('data', (d: Buffer) => (d.toString().includes('listening') || d.toString().includes(String(port)) ? res() : undefined));
      ftpsd!.once('exit', (code) => rej(new Error(`ftpsd exited ${code}`)));
      setTimeout(() => rej(new Error('ftpsd did not start')), 30_000);
    });
    ftpsd.stdout!.resume();
    const pid = ftpsd.pid!;
    const url = `ftp://127.0.0.1:${port}`;
    out('#', `s3 bench: ${mib} MiB, MLSD of ${listN} objects, partSizeMiB 8 x queueSize 4, Swift on loopback`);
    // The floor: ftpsd started (the SDK loaded, the bucket checked), no session yet.
    await new Promise((res) => setTimeout(res, 1000));
    out('s3_idle_rss_MiB', ((await memKiB(pid, 'VmRSS')) / 1024).toFixed(0));

    // Direct SDK, the reference: lib-storage Upload (8 MiB x 4, as ftpsd's defaults) and GetObject.
    const [sdkUp] = await measured(process.pid, async () => {
      await new Upload({ client, params: { Bucket: BUCKET, Key: 'sdk.bin', Body: createReadStream(file) }, partSize: 8 * MIB, queueSize: 4 }).done();
    });
    const [sdkDown] = await measured(process.pid, async () => {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sdk.bin' }));
      for await (const _ of got.Body as AsyncIterable<Buffer>) void _;
    });
    out('s3_sdk_put_MBps', (mib * MIB / 1e6 / sdkUp).toFixed(1));
    out('s3_sdk_get_MBps', (mib * MIB / 1e6 / sdkDown).toFixed(1));
    for (const [mode, extra] of [
      ['plain', []],
      ['tls', ['--ssl-reqd', '--insecure']],
    ] as const) {
      log(`STOR ${mode}`);
      const [up, upPeak] = await measured(pid, () => runCurl([...extra, '-T', file, `${url}/${mode}.bin`]));
      log(`RETR ${mode}`);
      const [down] = await measured(pid, () => runCurl([...extra, '-o', '/dev/null', `${url}/${mode}.bin`]));
      const upMB = (mib * MIB) / 1e6 / up;
      const downMB = (mib * MIB) / 1e6 / down;
      out(`s3_stor_${mode}_MBps`, upMB.toFixed(1));
      out(`s3_retr_${mode}_MBps`, downMB.toFixed(1));
      out(`s3_stor_${mode}_ratio_vs_sdk`, (upMB / (mib * MIB / 1e6 / sdkUp)).toFixed(2));
      out(`s3_retr_${mode}_ratio_vs_sdk`, (downMB / (mib * MIB / 1e6 / sdkDown)).toFixed(2));
      out(`s3_stor_${mode}_peak_rss_MiB`, upPeak.toFixed(0));
    }

    if (listN > 0) {
      // The objects are put directly, 64 requests at a time (a pool, not batches): Swift takes them at its pace.
      log(`putting ${listN} objects ...`);
      const t0 = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          for (let i = next++; i < listN; i = next++) {
            await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `ftp/many/o-${String(i).padStart(7, '0')}`, Body: 'x', ContentLength: 1 }));
          }
        }),
      );
      log(`put ${listN} objects in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      const [listS, listPeak] = await measured(pid, () => runCurl(['-X', 'MLSD', '-o', '/dev/null', `${url}/many/`]));
      out('s3_mlsd_objects', listN);
      out('s3_mlsd_s', listS.toFixed(2));
      out('s3_mlsd_peak_rss_MiB', listPeak.toFixed(0));
    }
    return 0;
  } finally {
    ftpsd?.kill('SIGTERM');
    client.destroy();
    await swift.stop();
    await rm(work, { recursive: true, force: true });
  }
}
