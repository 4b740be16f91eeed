/**
 * `ftpsd serve --root s3://...` as a process (spawned from dist/) against Swift: killed with SIGKILL
 * mid-upload and started again, no object appears and the multipart upload it had begun is aborted at
 * the start; repeated config reloads add no connections to the store (the client is kept), and a client
 * replaced by new settings is destroyed only after its in-flight requests (a body being read) are done.
 */
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { execFileSync, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3/client.js';
import { liveS3Clients, sharedS3Client } from '../../src/storage/s3/shared-client.js';
import { assertBuilt, configFile, killAll, removeTempDirs, Served } from '../cli/cli.js';
import { startSwift, type SwiftService } from '../services/swift.js';
import { curl } from './clients.js';
import { MiB, expectSuccess, tempDir, writeRandomFile, type TempDir } from './helpers.js';

const BUCKET = 'ftpsd-process';
let swift: SwiftService;
let client: S3Client;
let work: TempDir;

beforeAll(async () => {
  work = await tempDir();
  swift = await startSwift();
  client = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 120_000);

afterAll(async () => {
  killAll();
  client?.destroy();
  await swift?.stop();
  await work?.remove();
  await removeTempDirs();
});

const env = (): Record<string, string> => ({
  AWS_ENDPOINT_URL: swift.endpoint,
  AWS_REGION: swift.region,
  AWS_ACCESS_KEY_ID: swift.accessKeyId,
  AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
  FTPSD_PASSWORD: 'pw-for-test',
});

async function uploads(): Promise<number> {
  return (await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads?.length ?? 0;
}

/** ESTABLISHED TCP connections of `pid` to the Swift proxy. */
function connectionsToSwift(pid: number): number {
  const port = new URL(swift.endpoint).port;
  const out = execFileSync('ss', ['-tnpH', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`pid=${pid},`)).length;
}

describe('ftpsd serve on S3, as a process', () => {
  it('SIGKILL mid-upload, then a restart: no object, and the begun multipart upload is aborted at start', async () => {
    assertBuilt();
    const args = ['serve', '--root', `s3://${BUCKET}/crash`, '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--tls-required', 'off', '--user', 'crash:pw-for-test', '--state-dir', join(work.path, 'state')];
    const source = join(work.path, 'big.bin');
    await writeRandomFile(source, 40 * MiB);
    const first = await Served.start(args, { env: env() });
    const upload = spawn('curl', ['-q', '--silent', '--user', 'crash:pw-for-test', '--limit-rate', '4M', '-T', source, `ftp://127.0.0.1:${first.port}/big.bin`], { stdio: 'ignore' });
    try {
      const deadline = Date.now() + 30_000;
      while ((await uploads()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(await uploads()).toBe(1); // the first part went: a multipart upload was begun
      await first.stop('SIGKILL');
    } finally {
      upload.kill('SIGKILL');
    }
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'crash/big.bin' }))).rejects.toMatchObject({ name: 'NotFound' });
    expect(await uploads()).toBe(1); // a crash aborts nothing by itself
    const second = await Served.start(args, { env: env() });
    try {
      expect(await uploads()).toBe(0); // aborted at start, before the banner
      const marks = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'crash/.ftpsd-uploads/' }));
      expect(marks.KeyCount ?? 0).toBe(0);
      await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'crash/big.bin' }))).rejects.toMatchObject({ name: 'NotFound' });
    } finally {
      await second.stop();
    }
  }, 120_000);

  it('config reloads keep the S3 client: the connections to the store do not grow', async () => {
    assertBuilt();
    const { dir, file } = await configFile(
      ['root: s3://ftpsd-process/reload', 's3:', `  endpoint: ${swift.endpoint}`, '  region: us-east-1', `  accessKeyId: "${swift.accessKeyId}"`, '  secretAccessKeyFile: s3-secret', ''].join('\n'),
    );
    await writeFile(join(dir, 'etc', 's3-secret'), swift.secretAccessKey);
    const served = await Served.start(['serve', '--config', file, '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--tls-required', 'off', '--user', 'rl:pw-for-test', '--state-dir', join(dir, 'state')], { env: { FTPSD_PASSWORD: 'pw-for-test' } });
    try {
      const list = async (): Promise<void> => void expectSuccess(await curl(['--user', 'rl:pw-for-test', `ftp://127.0.0.1:${served.port}/`]));
      await list();
      const before = connectionsToSwift(served.child.pid!);
      expect(before).toBeGreaterThan(0);
      for (let i = 1; i <= 5; i++) {
        served.child.kill('SIGHUP');
        const deadline = Date.now() + 20_000;
        while ((served.rawStdout + served.stderr).split('config reloaded').length - 1 < i && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        await list();
      }
      expect((served.rawStdout + served.stderr).split('config reloaded').length - 1).toBe(5);
      expect(connectionsToSwift(served.child.pid!)).toBeLessThanOrEqual(before);
    } finally {
      await served.stop();
    }
  }, 120_000);

  it('new client settings retire the old client only after its in-flight requests (a body still being read)', async () => {
    const settings = { endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey };
    const owner = `s3://${BUCKET}/retire`;
    const data = Buffer.alloc(4 * MiB, 7);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'retire/obj', Body: data }));
    const live = liveS3Clients();
    const old = sharedS3Client(owner, settings);
    expect(sharedS3Client(owner, settings)).toBe(old); // same settings: the same client
    expect(liveS3Clients()).toBe(live + 1);
    const got = await old.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'retire/obj' }));
    const fresh = sharedS3Client(owner, { ...settings, maxAttempts: 2 }); // new settings: old is retired
    expect(fresh).not.toBe(old);
    expect(liveS3Clients()).toBe(live + 1);
    const chunks: Buffer[] = [];
    for await (const c of got.Body as Readable) chunks.push(c as Buffer); // not cut by the retirement
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    const agent = (old.config.requestHandler as unknown as { config?: { httpAgent?: { sockets: object; freeSockets: object } } }).config?.httpAgent;
    if (agent) expect(Object.keys(agent.freeSockets).length + Object.keys(agent.sockets).length).toBe(0); // destroyed once idle
    fresh.destroy();
  }, 60_000);
});
