/**
 * A client process for `npm run soak` to kill (SIGKILL) in the middle of an upload: it logs in, starts
 * the upload given as JSON in argv[2], sends `send` bytes of the body, prints `SENT` and waits for its
 * end. Killed, the kernel closes its sockets as it does for any crashed client: FIN (RST only with
 * unread data), and no TLS close_notify.
 */
import { RawClient } from '../../test/helpers/raw-client.js';
import { segmentBytes, type Segment } from './segments.js';

interface Job {
  port: number;
  tls: boolean;
  prot: boolean;
  user: string;
  pass: string;
  verb: 'STOR' | 'APPE' | 'REST';
  offset?: number;
  path: string;
  body: Segment;
  send: number;
}

const job = JSON.parse(process.argv[2]!) as Job;
const c = await RawClient.connect(job.port, '127.0.0.1');
if (job.tls) await c.auth();
await c.login(job.user, job.pass);
if (job.tls) {
  await c.expectCmd('PBSZ 0', 200);
  await c.expectCmd(`PROT ${job.prot ? 'P' : 'C'}`, 200);
}
await c.expectCmd('TYPE I', 200);
const data = await c.epsv();
if (job.verb === 'REST') await c.expectCmd(`REST ${job.offset ?? 0}`, 350);
c.send(`${job.verb === 'APPE' ? 'APPE' : 'STOR'} ${job.path}`);
await c.expect(150);
const out = job.prot ? await c.protect(data) : data;
const body = segmentBytes(job.body);
await new Promise<void>((resolve) => out.write(body.subarray(0, job.send), () => resolve()));
process.stdout.write('SENT\n');
setInterval(() => {}, 60_000);
