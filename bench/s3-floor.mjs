/**
 * The floor of ftpsd's S3 path (bench/s3.ts starts it beside ftpsd): a bare Node HTTP server, no FTP,
 * plain JavaScript (no TypeScript loader in the process), that only moves bytes between one socket and
 * the same AWS SDK client ftpsd uses (same settings: keep-alive, checksums only WHEN_REQUIRED).
 *
 * - `PUT /KEY`: the request body is copied into parts of FLOOR_PART_MIB (8) MiB, at most FLOOR_QUEUE (4)
 *   parts held at once (the one being filled and those being sent, as ftpsd's S3Upload; the parts are
 *   allocated once and reused, the socket paused while none is free), each sent with UploadPart, then
 *   CompleteMultipartUpload. No digest, no marks, no quota: less work than ftpsd does.
 * - `GET /KEY`: GetObject, its body piped to the response.
 *
 * With FLOOR_TLS_KEY and FLOOR_TLS_CERT (PEM files) it is an HTTPS server: curl and this process pay TLS
 * on the client side of the transfer, as with FTP PROT P. Prints `listening PORT` when ready.
 *
 *   AWS_ENDPOINT_URL=... AWS_REGION=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
 *   FLOOR_BUCKET=ftpsd-bench node bench/s3-floor.mjs
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { readFileSync } from 'node:fs';
import { Agent, createServer as createHttp } from 'node:http';
import { createServer as createHttps } from 'node:https';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const MIB = 1024 * 1024;
const PART = Number(process.env.FLOOR_PART_MIB ?? 8) * MIB;
const QUEUE = Number(process.env.FLOOR_QUEUE ?? 4);
const BUCKET = process.env.FLOOR_BUCKET ?? 'ftpsd-bench';

const client = new S3Client({
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000, httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) },
});

async function put(key, req) {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
  const parts = [];
  const spare = [];
  const inFlight = new Set();
  let allocated = 0;
  let part;
  let filled = 0;
  let number = 0;
  const send = (buf, length) => {
    const n = ++number;
    const p = client
      .send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: n, Body: buf.subarray(0, length), ContentLength: length }))
      .then((r) => {
        parts.push({ PartNumber: n, ETag: r.ETag });
        spare.push(buf);
      });
    inFlight.add(p);
    p.finally(() => inFlight.delete(p)).catch(() => {});
  };
  const freePart = async () => {
    while (inFlight.size >= QUEUE || (spare.length === 0 && allocated >= QUEUE)) await Promise.race(inFlight);
    if (spare.length > 0) return spare.pop();
    allocated++;
    return Buffer.allocUnsafe(PART);
  };
  for await (const chunk of req) {
    let off = 0;
    while (off < chunk.length) {
      part ??= await freePart();
      const n = chunk.copy(part, filled, off);
      off += n;
      filled += n;
      if (filled === PART) {
        send(part, filled);
        part = undefined;
        filled = 0;
      }
    }
  }
  if (filled > 0) send(part, filled);
  while (inFlight.size > 0) await Promise.all(inFlight);
  parts.sort((a, b) => a.PartNumber - b.PartNumber);
  await client.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
}

async function get(key, res) {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  res.writeHead(200, { 'content-length': String(got.ContentLength) });
  got.Body.pipe(res);
}

function handle(req, res) {
  const key = decodeURIComponent(req.url.slice(1));
  const work = req.method === 'PUT' ? put(key, req).then(() => res.end('ok\n')) : get(key, res);
  work.catch((err) => {
    process.stderr.write(`s3-floor: ${err.message}\n`);
    res.destroy();
  });
}

const tls = process.env.FLOOR_TLS_KEY ? { key: readFileSync(process.env.FLOOR_TLS_KEY), cert: readFileSync(process.env.FLOOR_TLS_CERT) } : undefined;
const server = tls ? createHttps(tls, handle) : createHttp(handle);
server.listen(Number(process.env.FLOOR_PORT ?? 0), '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
