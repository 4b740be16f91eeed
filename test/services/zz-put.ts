import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/storage/s3/client.js';
import { startSwift } from './swift.js';
async function main() {
  const s = await startSwift();
  const c = createS3Client({ endpoint: s.endpoint, accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey });
  await c.send(new CreateBucketCommand({ Bucket: 'bench-b' }));
  const N = Number(process.env.N ?? 1000), W = Number(process.env.W ?? 32);
  let next = 0;
  const t0 = Date.now();
  await Promise.all(Array.from({ length: W }, async () => { while (next < N) { const i = next++; await c.send(new PutObjectCommand({ Bucket: 'bench-b', Key: `d/o-${i}`, Body: 'x', ContentLength: 1 })); } }));
  console.log(require('child_process').execSync('ps -eo pid,ppid,time,comm | grep [p]ython3').toString());
  console.log('puts/s', (N / ((Date.now() - t0) / 1000)).toFixed(0));
  c.destroy();
  await s.stop();
}
main();
