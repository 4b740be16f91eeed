/**
 * The test Swift harness itself: it starts (the S3 API answers, SigV4 checked), and the servers do not
 * outlive a test process killed with SIGKILL (the launcher's watchdog stops them and removes their
 * directory).
 */
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { request } from 'node:http';
import { until } from '../helpers/poll.js';
import { describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3/client.js';

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const SCRIPT = `
import { startSwift } from './test/services/swift.ts';
const s = await startSwift();
console.log(JSON.stringify({ endpoint: s.endpoint, dir: s.dir }));
setInterval(() => {}, 1000);
`;

describe('test Swift', () => {
  it('serves S3 (a wrong secret refused); a SIGKILLed parent leaves no server running', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const started = await new Promise<{ endpoint: string; dir: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`swift did not start: ${out}`)), 60_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { endpoint: string; dir: string });
        }
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    const good = createS3Client({ endpoint: started.endpoint, accessKeyId: 'test:tester', secretAccessKey: 'testing', maxAttempts: 1 });
    const bad = createS3Client({ endpoint: started.endpoint, accessKeyId: 'test:tester', secretAccessKey: 'wrong', maxAttempts: 1 });
    try {
      await good.send(new ListBucketsCommand({}));
      await expect(bad.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    } finally {
      good.destroy();
      bad.destroy();
    }
    child.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while ((await answers(`${started.endpoint}/healthcheck`)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await answers(`${started.endpoint}/healthcheck`)).toBe(false);
    // stop() never ran: the launcher removes the directory too, once its servers are gone (which is
    // after they stop answering: wait for it, bounded).
    const gone = () => access(started.dir).then(() => false, (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
    await until(gone, 'the launcher to remove its directory', 15_000, 100);
    await expect(access(started.dir)).rejects.toMatchObject({ code: 'ENOENT' });
  }, 90_000);
});
