/**
 * What S3Storage does beyond the storage contract, on Swift's S3 API (test/services/swift.ts): SigV4 is
 * checked (a wrong secret is refused, EACCES), a large STOR is a multipart upload (ETag ending in -N) held
 * back until commit, an abort leaves no multipart upload, stale uploads of a dead process are aborted at
 * start, a directory rename past maxRenameObjects is refused, REST + STOR is ENOTSUP, and APPE of a large
 * object is a server-side copy.
 */
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, CreateMultipartUploadCommand, type S3Client } from '@aws-sdk/client-s3';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3/client.js';
import { S3Storage } from '../../src/storage/s3/s3-storage.js';
import { abortStaleUploads } from '../../src/storage/s3/marks.js';
import type { S3Upload } from '../../src/storage/s3/upload.js';
import { copyLimits } from '../../src/storage/s3/copy.js';
import { bytes, errnoOf, partial, put, readAll, send } from '../../src/testing/contract-helpers.js';
import { startSwift, type SwiftService } from '../services/swift.js';

let swift: SwiftService;
let client: S3Client;
let n = 0;

beforeAll(async () => {
  swift = await startSwift();
  client = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey });
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await swift?.stop();
});

async function freshStorage(options: { partSizeMiB?: number; queueSize?: number; maxRenameObjects?: number } = {}): Promise<{ bucket: string; storage: S3Storage }> {
  const bucket = `s3test-${process.pid}-${++n}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { bucket, storage: new S3Storage({ client, bucket, prefix: 'root', partSizeMiB: 5, queueSize: 2, ...options }) };
}

async function uploadsIn(bucket: string): Promise<number> {
  return (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads?.length ?? 0;
}

describe('S3Storage on Swift', () => {
  it('a wrong secret is refused (SigV4 is checked): EACCES', async () => {
    const { bucket } = await freshStorage();
    const wrong = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: 'not-the-secret', maxAttempts: 1 });
    try {
      const storage = new S3Storage({ client: wrong, bucket });
      const err = await storage.stat(['x']).catch((e: unknown) => e);
      expect(errnoOf(err)).toBe('EACCES');
    } finally {
      wrong.destroy();
    }
  });

  it('a STOR larger than a part is a multipart upload, ETag -N, visible only at commit; abort leaves no upload', async () => {
    const { bucket, storage } = await freshStorage();
    const data = bytes(12 * 1024 * 1024 + 5, 9);
    const upload = await storage.write(['big'], { mode: 'replace' });
    await send(upload, data, 256 * 1024);
    expect(await uploadsIn(bucket)).toBeLessThanOrEqual(1);
    await expect(storage.stat(['big'])).rejects.toMatchObject({ errno: 'ENOENT' });
    await upload.commit();
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'root/big' }));
    expect(head.ETag).toMatch(/-3"$/);
    expect((await readAll(storage, ['big'])).equals(data)).toBe(true);
    expect(await uploadsIn(bucket)).toBe(0);
    const marks = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'root/.ftpsd-uploads/' }));
    expect(marks.KeyCount ?? 0).toBe(0);

    const aborted = await partial(storage, ['gone'], bytes(11 * 1024 * 1024));
    await new Promise((r) => setTimeout(r, 500));
    await aborted.abort();
    expect(await uploadsIn(bucket)).toBe(0);
    await expect(storage.stat(['gone'])).rejects.toMatchObject({ errno: 'ENOENT' });
    expect((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'root/.ftpsd-uploads/' }))).KeyCount ?? 0).toBe(0);
  });

  it('an upload holds at most queueSize part buffers (the part being filled counts), reused part after part', async () => {
    const { bucket, storage } = await freshStorage({ queueSize: 2 });
    const data = bytes(31 * 1024 * 1024 + 7, 3);
    const upload = await storage.write(['held'], { mode: 'replace' });
    await send(upload, data, 64 * 1024);
    await upload.commit();
    expect((upload as S3Upload).partBuffers).toBeLessThanOrEqual(2);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'root/held' }));
    expect(head.ETag).toMatch(/-7"$/);
    expect((await readAll(storage, ['held'])).equals(data)).toBe(true);
  });

  it('a rename above the single-copy limit is a multipart copy (UploadPartCopy), byte-identical, metadata kept', async () => {
    const { bucket, storage } = await freshStorage();
    const data = bytes(13 * 1024 * 1024 + 3, 5);
    await put(storage, ['huge'], data);
    const when = new Date('2020-01-02T03:04:05Z');
    await storage.setTime(['huge'], when);
    const saved = { ...copyLimits };
    Object.assign(copyLimits, { singleMax: 6 * 1024 * 1024, minPart: 5 * 1024 * 1024 }); // internal, test-only
    try {
      await storage.rename(['huge'], ['moved']);
    } finally {
      Object.assign(copyLimits, saved);
    }
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'root/moved' }));
    expect(head.ETag).toMatch(/-3"$/); // 5 + 5 + 3 MiB parts: it was a multipart copy
    expect((await readAll(storage, ['moved'])).equals(data)).toBe(true);
    expect((await storage.stat(['moved'])).mtime.toISOString()).toBe(when.toISOString());
    await expect(storage.stat(['huge'])).rejects.toMatchObject({ errno: 'ENOENT' });
    expect(await uploadsIn(bucket)).toBe(0);
  });

  it('APPE of an object of 5 MiB or more copies it server-side into the first part', async () => {
    const { storage } = await freshStorage();
    const first = bytes(6 * 1024 * 1024, 1);
    await put(storage, ['log'], first);
    await put(storage, ['log'], 'tail', { mode: 'append' });
    expect((await readAll(storage, ['log'])).equals(Buffer.concat([first, Buffer.from('tail')]))).toBe(true);
  });

  it('a listing pages past 1000 keys (ListObjectsV2 continuation), and may be left early', async () => {
    const { bucket, storage } = await freshStorage();
    await storage.mkdir(['big']);
    const names = Array.from({ length: 1100 }, (_, i) => `o-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < names.length; i += 16) {
      await Promise.all(names.slice(i, i + 16).map((n) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `root/big/${n}`, Body: 'x', ContentLength: 1 }))));
    }
    let seen = 0;
    for await (const _ of storage.list(['big'])) if (++seen === 10) break;
    const all: string[] = [];
    for await (const e of storage.list(['big'])) all.push(e.name);
    expect(all.sort()).toEqual(names);
  }, 300_000);

  it('REST + STOR is ENOTSUP (objects are not written in place)', async () => {
    const { storage } = await freshStorage();
    await put(storage, ['f'], '0123');
    const err = await storage.write(['f'], { mode: 'offset', offset: 2 }).catch((e: unknown) => e);
    expect(errnoOf(err)).toBe('ENOTSUP');
  });

  it('at start, the uploads a dead process of this host began are aborted; live ones are kept', async () => {
    const { bucket, storage } = await freshStorage();
    const mark = async (key: string, pid: number): Promise<void> => {
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      const body = JSON.stringify({ key, uploadId: UploadId, host: hostname(), pid, started: new Date().toISOString() });
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: storage.keys.uploadMark(UploadId!), Body: body }));
    };
    await mark('root/dead', 2 ** 22 + 12345); // above pid_max on default kernels: no such process
    await mark('root/alive', process.pid);
    expect(await uploadsIn(bucket)).toBe(2);
    expect(await abortStaleUploads(client, bucket, storage.keys)).toBe(1);
    const left = (await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    expect(left.map((u) => u.Key)).toEqual(['root/alive']);
  });

  it('a directory rename past maxRenameObjects is refused with a clear 550, nothing moved', async () => {
    const { storage } = await freshStorage({ maxRenameObjects: 3 });
    await storage.mkdir(['d']);
    for (const name of ['a', 'b', 'c']) await put(storage, ['d', name], name);
    const err = (await storage.rename(['d'], ['e']).catch((e: unknown) => e)) as { reply?: { code: number; lines: string[] } };
    expect(err.reply?.code).toBe(550);
    expect(err.reply?.lines.join(' ')).toMatch(/too large to rename/);
    expect((await readAll(storage, ['d', 'a'])).toString()).toBe('a');
    await expect(storage.stat(['e'])).rejects.toMatchObject({ errno: 'ENOENT' });
  });
});
