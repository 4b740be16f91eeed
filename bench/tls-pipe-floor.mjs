/**
 * The cost of sending over TLS that runs on a JavaScript stream (the upload wrapping of
 * src/data/data-end.ts, which an early data-connection handshake uses for downloads too: see
 * src/data/early-tls.ts) against TLS directly on the socket. A bare server writes BYTES (512 MiB) in
 * 1 MiB writes to one TLS client in a child process (TLS 1.2, as ftpsd's data connections that do not
 * resume) and prints its own CPU per GiB, user and system apart.
 *
 * `npm run build && node bench/tls-pipe-floor.mjs [native|pipe] [WRITE_BYTES]` (default: both, each
 * twice, alternated). Run `MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=268435456 node
 * bench/tls-pipe-floor.mjs` to see how much of the difference is glibc returning the copies' memory to
 * the kernel and faulting it in again (Node's JSStream copies every TLS output batch into a new buffer).
 * Loopback only; run it under the bench lock.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { uploadTls } from '../dist/data/data-end.js';
import { generateSelfSigned } from '../dist/tls/self-signed.js';

const BYTES = 512 * 1024 * 1024;
const [mode, writeArg] = process.argv.slice(2);

if (!mode) {
  for (const m of ['native', 'pipe', 'native', 'pipe']) {
    spawnSync(process.execPath, [fileURLToPath(import.meta.url), m, ...(writeArg ? [writeArg] : [])], { stdio: 'inherit' });
  }
} else {
  const chunk = Buffer.alloc(Number(writeArg ?? 1024 * 1024), 7);
  const { cert, key } = await generateSelfSigned();
  const secureContext = createSecureContext({ cert, key, maxVersion: 'TLSv1.2' });
  const server = createServer({ allowHalfOpen: true }, (raw) => {
    const tls = mode === 'pipe' ? uploadTls(raw, { isServer: true, secureContext, requireCloseNotify: true }) : new TLSSocket(raw, { isServer: true, secureContext });
    tls.on('error', () => {});
    tls.once('secure', async () => {
      const start = process.cpuUsage();
      for (let sent = 0; sent < BYTES; sent += chunk.length) await new Promise((resolve) => tls.write(chunk, resolve));
      tls.end();
      const used = process.cpuUsage(start);
      const perGiB = (1024 ** 3 / BYTES) / 1e6;
      console.log(`${mode} ${chunk.length}-byte writes: server CPU ${((used.user + used.system) * perGiB).toFixed(2)} s/GiB (user ${(used.user * perGiB).toFixed(2)}, system ${(used.system * perGiB).toFixed(2)})`);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    const client = `const s=require('tls').connect({port:${port},host:'127.0.0.1',rejectUnauthorized:false,maxVersion:'TLSv1.2'});s.on('data',()=>{});s.on('end',()=>s.end());s.on('error',()=>{});`;
    spawn(process.execPath, ['-e', client], { stdio: 'inherit' }).on('exit', () => server.close());
  });
}
