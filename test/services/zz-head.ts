import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execSync } from 'node:child_process';
import { createS3Client } from '../../src/storage/s3/client.js';
import { startSwift } from './swift.js';
async function main() {
  const s = await startSwift();
  const c = createS3Client({ endpoint: s.endpoint, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey, maxSockets: 16 });
  await c.send(new CreateBucketCommand({ Bucket: 'bench-b' }));
  if (process.env.EXIST) await c.send(new PutObjectCommand({ Bucket: 'bench-b', Key: 'd/x', Body: 'x' }));
  const N = Number(process.env.N ?? 1000), W = Number(process.env.W ?? 50);
  let next = 0;
  const port = new URL(s.endpoint).port;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: W }, async () => { while (next < N) { const i = next++; await c.send(new HeadObjectCommand({ Bucket: 'bench-b', Key: process.env.EXIST ? 'd/x' : `d/o-${i}` })).catch(() => {}); } }));
  console.log('heads/s', (N / ((Date.now() - t0) / 1000)).toFixed(0));
  console.log(execSync(`ss -tan | grep -c ':${port}\\b' || true; ss -ltn | grep ${port}; ss -tan state time-wait | wc -l`).toString());
  c.destroy();
  await s.stop();
}
main();
