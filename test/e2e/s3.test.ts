/**
 * ftpsd in front of an S3 bucket (OpenStack Swift's S3 API, test/services/swift.ts), end to end: curl,
 * lftp and basic-ftp upload and download 64 MiB byte-identical (checked by sha256, also on the object);
 * a client killed mid-upload leaves no object and no multipart upload; a quota refusal leaves nothing;
 * `ftpsd serve --root s3://...` with a wrong secret exits 1 with one line.
 */
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { createServer } from '../../src/index.js';
import { RawClient, writeAll } from '../helpers/raw-client.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3/client.js';
import { S3Storage } from '../../src/storage/s3/s3-storage.js';
import { assertBuilt, run as runFtpsd, Served } from '../cli/cli.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { startSwift, type SwiftService } from '../services/swift.js';
import { basicFtp, curl, curlTarget, lftp, lftpOpen, lftpQuote as q } from './clients.js';
import { MiB, expectSuccess, sha256File, tempDir, writeRandomFile, type TempDir } from './helpers.js';

const SIZE = 64 * MiB;
const BUCKET = 'ftpsd-e2e';
let swift: SwiftService;
let client: S3Client;
let storage: S3Storage;
let t: TestServer;
let work: TempDir;
let source: string;
let sourceHash: string;

beforeAll(async () => {
  work = await tempDir();
  source = join(work.path, 'random.bin');
  [sourceHash, swift] = await Promise.all([writeRandomFile(source, SIZE), startSwift()]);
  client = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey });
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  storage = new S3Storage({ client, bucket: BUCKET, prefix: 'ftp' });
  t = await startServer({
    users: [
      { name: USER, password: { plain: PASS }, home: storage },
      { name: 'small', password: { plain: PASS }, home: storage.below('small'), quota: { bytes: 1 * MiB } },
      // A store that does not answer (a closed port) and one that refuses the signature.
      { name: 'broken', password: { plain: PASS }, home: new S3Storage({ client: createS3Client({ endpoint: `http://127.0.0.1:${await closedPort()}`, maxAttempts: 2, accessKeyId: 'a', secretAccessKey: 'b' }), bucket: BUCKET }) },
      { name: 'denied', password: { plain: PASS }, home: new S3Storage({ client: createS3Client({ endpoint: swift.endpoint, accessKeyId: swift.accessKeyId, secretAccessKey: 'wrong', maxAttempts: 1 }), bucket: BUCKET }) },
    ],
  });
}, 180_000);

afterAll(async () => {
  await t?.close();
  client?.destroy();
  await swift?.stop();
  await work?.remove();
});

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function objectHash(key: string): Promise<string> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of got.Body as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

async function multipartUploads(): Promise<number> {
  return (await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))).Uploads?.length ?? 0;
}

describe('ftpsd over S3 (Swift)', () => {
  it('curl uploads 64 MiB; curl, lftp (PROT P) and basic-ftp download it byte-identical', async () => {
    const plain = curlTarget(t, 'plain');
    expectSuccess(await curl([...plain.args, '-T', source, `${plain.url}/curl.bin`], { timeoutMs: 240_000 }));
    expect(await objectHash('ftp/curl.bin')).toBe(sourceHash);
    const viaCurl = join(work.path, 'curl-down.bin');
    expectSuccess(await curl([...plain.args, '-o', viaCurl, `${plain.url}/curl.bin`], { timeoutMs: 240_000 }));
    expect(await sha256File(viaCurl)).toBe(sourceHash);
    const viaLftp = join(work.path, 'lftp-down.bin');
    expectSuccess(await lftp(`${lftpOpen(t, 'explicit')}; get curl.bin -o ${q(viaLftp)}`, { timeoutMs: 240_000 }));
    expect(await sha256File(viaLftp)).toBe(sourceHash);
    const ftp = await basicFtp(t, 'plain');
    try {
      const viaBasic = join(work.path, 'basic-down.bin');
      await ftp.downloadTo(viaBasic, 'curl.bin');
      expect(await sha256File(viaBasic)).toBe(sourceHash);
    } finally {
      ftp.close();
    }
  }, 600_000);

  it('lftp (PROT P) and basic-ftp upload 64 MiB byte-identical; no multipart upload left', async () => {
    expectSuccess(await lftp(`${lftpOpen(t, 'explicit')}; put ${q(source)} -o lftp.bin`, { timeoutMs: 240_000 }));
    expect(await objectHash('ftp/lftp.bin')).toBe(sourceHash);
    const ftp = await basicFtp(t, 'plain');
    try {
      await ftp.uploadFrom(source, 'basic.bin');
    } finally {
      ftp.close();
    }
    expect(await objectHash('ftp/basic.bin')).toBe(sourceHash);
    expect(await multipartUploads()).toBe(0);
  }, 600_000);

  // 1 GiB with one client per direction (the others move 64 MiB above), to keep CI time down: streamed
  // from and to files, compared by SHA-256, never held in memory.
  it('1 GiB: curl uploads it, lftp (PROT P) downloads it byte-identical; no multipart upload left', async () => {
    const big = join(work.path, 'gib.bin');
    const bigHash = await writeRandomFile(big, 1024 * MiB);
    const plain = curlTarget(t, 'plain');
    expectSuccess(await curl([...plain.args, '-T', big, `${plain.url}/gib.bin`], { timeoutMs: 600_000 }));
    expect(await multipartUploads()).toBe(0);
    const down = join(work.path, 'gib-down.bin');
    expectSuccess(await lftp(`${lftpOpen(t, 'explicit')}; get gib.bin -o ${q(down)}`, { timeoutMs: 600_000 }));
    expect(await sha256File(down)).toBe(bigHash);
    await Promise.all([rm(big), rm(down)]);
  }, 900_000);

  it('a client killed mid-upload leaves no object and no multipart upload', async () => {
    const plain = curlTarget(t, 'plain');
    // curl reads the upload from a pipe we feed (30 MiB: several parts), then is killed.
    const child = spawn('curl', ['-q', '--silent', ...plain.args, '-T', '-', `${plain.url}/killed.bin`], { stdio: ['pipe', 'ignore', 'ignore'] });
    const chunk = Buffer.alloc(MiB, 7);
    for (let i = 0; i < 30; i++) await new Promise<void>((resolve, reject) => child.stdin.write(chunk, (err) => (err ? reject(err) : resolve())));
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const deadline = Date.now() + 30_000;
    while ((await multipartUploads()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await multipartUploads()).toBe(0);
    await expect(storage.stat(['killed.bin'])).rejects.toMatchObject({ errno: 'ENOENT' });
  }, 120_000);

  it('ABOR mid-upload: 426 then 226, no object and no multipart upload', async () => {
    const c = await RawClient.connect(t.port, t.host);
    try {
      await c.login(USER, PASS);
      const data = await c.epsv();
      await c.expectCmd('STOR aborted.bin', 150);
      const chunk = Buffer.alloc(MiB, 3);
      for (let i = 0; i < 20; i++) await writeAll(data, chunk); // 20 MiB: several parts sent
      c.send('ABOR');
      data.destroy();
      const first = await c.reply(30_000);
      expect([426, 226, 451]).toContain(first.code);
      if (first.code === 426) await c.expect(226);
      await c.expectCmd('NOOP', 200);
    } finally {
      c.close();
    }
    const deadline = Date.now() + 30_000;
    while ((await multipartUploads()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(await multipartUploads()).toBe(0);
    await expect(storage.stat(['aborted.bin'])).rejects.toMatchObject({ errno: 'ENOENT' });
  }, 120_000);

  it('errors: an unreachable store is 451 for that command only; a wrong secret 550; the session goes on', async () => {
    const ftp = await basicFtp(t, 'plain');
    try {
      await ftp.login('broken', PASS);
      const err = await ftp.size('x').catch((e: unknown) => e);
      expect(String((err as Error).message)).toMatch(/^451/);
      expect((await ftp.send('NOOP')).code).toBe(200);
      await ftp.login('denied', PASS);
      const denied = await ftp.size('x').catch((e: unknown) => e);
      expect(String((denied as Error).message)).toMatch(/^550 Permission denied/);
      expect((await ftp.send('NOOP')).code).toBe(200);
    } finally {
      ftp.close();
    }
  }, 120_000);

  it('a quota refusal (552) leaves no object and no multipart upload', async () => {
    const plain = curlTarget(t, 'plain');
    const r = await curl(['--user', `small:${PASS}`, '-T', source, `${plain.url}/too-big.bin`], { timeoutMs: 120_000 });
    // The server replies 552 while curl is still sending: curl reports the 552 or the reset that follows.
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/552|Send failure/);
    expect(await multipartUploads()).toBe(0);
    await expect(storage.stat(['small', 'too-big.bin'])).rejects.toMatchObject({ errno: 'ENOENT' });
  }, 120_000);

  it('createServer({ root: s3://BUCKET/PREFIX, s3: {...} }): homes are key prefixes below it', async () => {
    const secretFile = join(work.path, 's3-secret');
    await writeFile(secretFile, `${swift.secretAccessKey}\n`);
    const server = createServer({
      listen: '127.0.0.1:0',
      root: `s3://${BUCKET}/embed`,
      s3: { endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKeyFile: secretFile, partSizeMiB: 5, queueSize: 2 },
      users: [{ name: 'alice', password: 'a', home: 'alice' }],
      tlsRequired: 'off',
    });
    const { explicit } = await server.listen();
    try {
      const ftp = new Client(30_000);
      try {
        await ftp.access({ host: '127.0.0.1', port: explicit[0]!.port, user: 'alice', password: 'a' });
        await ftp.uploadFrom(Readable.from([Buffer.from('hello alice')]), 'hi.txt');
      } finally {
        ftp.close();
      }
      expect(await objectHash('embed/alice/hi.txt')).toBe(createHash('sha256').update('hello alice').digest('hex'));
    } finally {
      await server.close();
    }
  }, 60_000);

  it('ftpsd serve --root s3://BUCKET with a wrong secret exits 1 with one line, no stack', async () => {
    assertBuilt();
    const r = await runFtpsd(['serve', '--root', `s3://${BUCKET}`, '--listen', '127.0.0.1:0', '--implicit-listen', 'off'], {
      env: { AWS_ENDPOINT_URL: swift.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: 'wrong', FTPSD_PASSWORD: 'pw-for-test' },
    });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: s3://${BUCKET}: SignatureDoesNotMatch: the secret key is wrong`));
    expect(r.stderr).not.toContain('wrong\n');
  }, 60_000);

  it('ftpsd serve --root s3://BUCKET/PREFIX serves the bucket (AWS_* variables)', async () => {
    assertBuilt();
    const served = await Served.start(['serve', '--root', `s3://${BUCKET}/cli`, '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--user', 'cli:pw-for-test'], {
      env: { AWS_ENDPOINT_URL: swift.endpoint, AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.secretAccessKey, FTPSD_PASSWORD: 'pw-for-test' },
    });
    try {
      const r = await curl(['--user', 'cli:pw-for-test', '--ssl-reqd', '--insecure', '-T', '-', `ftp://127.0.0.1:${served.port}/hello.txt`], { input: 'hello from the CLI' });
      expectSuccess(r);
      expect(await objectHash('cli/hello.txt')).toBe(createHash('sha256').update('hello from the CLI').digest('hex'));
    } finally {
      await served.stop();
    }
  }, 60_000);
});
