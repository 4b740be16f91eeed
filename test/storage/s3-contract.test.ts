/**
 * The storage contract (src/testing/storage-contract.ts) against S3Storage on OpenStack Swift's S3 API
 * (test/services/swift.ts): one Swift for the file, a fresh bucket for each case.
 */
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3/client.js';
import { S3Storage } from '../../src/storage/s3/s3-storage.js';
import { storageContract } from '../../src/testing/storage-contract.js';
import { startSwift, type SwiftService } from '../services/swift.js';

let swift: SwiftService;
let client: S3Client;
let n = 0;

beforeAll(async () => {
  swift = await startSwift();
  client = createS3Client({ endpoint: swift.endpoint, region: swift.region, accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey, maxSockets: 16 }); // one proxy process: requests queue here (client.ts), not in the proxy
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await swift?.stop();
});

async function emptyBucket(bucket: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    if (!page.Contents?.length) break;
    await Promise.all(page.Contents.map((o) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }))));
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

describe('storage contract: S3Storage on Swift', () => {
  for (const [label, prefix] of [
    ['bucket root', ''],
    ['key prefix', 'served/root'],
  ] as const) {
    describe(label, () => {
      for (const c of storageContract(async () => {
        const bucket = `contract-${process.pid}-${++n}`;
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
        return { storage: new S3Storage({ client, bucket, prefix }), cleanup: () => emptyBucket(bucket) };
      })) {
        // The 2000-directory case is 2000 mkdirs (about six requests each): 3 to 4 minutes on a loaded 2-core machine.
        it(c.name, c.run, c.name.includes('2000 entries') ? 600_000 : 300_000);
      }
    });
  }
});
