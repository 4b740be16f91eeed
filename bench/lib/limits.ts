/**
 * Reference ceilings of this machine for a Node server (as in the anchor kit's `limits`): a Node child
 * process streams the big fixture (fs.createReadStream, 256 KiB chunks) into a loopback socket, and this
 * process discards it. Unlike the kit, one sender process serves a warm-up transfer first (a cold
 * process spends ~0.1 s of CPU compiling the stream code, which would dominate small BENCH_BIG_MIB runs).
 *   limit_tcp_node_MBps             plain TCP
 *   limit_tls_node_aes128gcm_MBps   TLS 1.3, TLS_AES_128_GCM_SHA256 (the bench certificate)
 *   limit_tls_node_aes256gcm_MBps   TLS 1.3, TLS_AES_256_GCM_SHA384 (what curl and Node negotiate by default)
 * and `<name>_sender_cpu_s_per_GiB`: the sending process's CPU per GiB, a floor for a Node server's
 * `retr_*_server_cpu_s_per_GiB` (the receiver here is Node too, and may be what limits the rate).
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { treeCpuSeconds } from './proc.js';
import { fmt, median, now, out, sleep } from './stats.js';

const SENDER = `
const fs=require('fs'),net=require('net'),tls=require('tls');
const [file,mode,cipher,cert,key]=process.argv.slice(1);
const handler=(s)=>{fs.createReadStream(file,{highWaterMark:256*1024}).pipe(s);};
const srv = mode==='tls'
  ? tls.createServer({key:fs.readFileSync(key),cert:fs.readFileSync(cert),ciphers:cipher,minVersion:'TLSv1.3'},handler)
  : net.createServer(handler);
srv.listen(0,'127.0.0.1',()=>process.send(srv.address().port));
`;

function receive(port: number, mode: 'tcp' | 'tls'): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const s: Socket = mode === 'tls' ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : netConnect({ host: '127.0.0.1', port });
    s.on('data', (d: Buffer) => (n += d.length));
    s.on('close', () => resolve(n));
    s.on('error', reject);
  });
}

async function series(name: string, file: string, mode: 'tcp' | 'tls', cipher: string, cert: string, key: string, reps: number): Promise<void> {
  const size = statSync(file).size;
  const ch = spawn(process.execPath, ['-e', SENDER, file, mode, cipher, cert, key], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      ch.once('message', (m) => resolve(Number(m)));
      ch.once('exit', (code) => reject(new Error(`sender exited with ${code}`)));
    });
    const pid = ch.pid ?? 0;
    await receive(port, mode); // warm-up
    const runs: { MBps: number; cpu: number }[] = [];
    for (let i = 0; i < reps; i++) {
      await sleep(300);
      const c0 = treeCpuSeconds([pid]);
      const t0 = now();
      const n = await receive(port, mode);
      const dt = now() - t0;
      const c1 = treeCpuSeconds([pid]);
      if (n !== size) throw new Error(`node ${mode}: got ${n} of ${size} bytes`);
      runs.push({ MBps: size / dt / 1e6, cpu: (c1 - c0) / (size / 1024 ** 3) });
    }
    out(name, fmt(median(runs.map((r) => r.MBps))));
    out(`${name}_runs`, runs.map((r) => fmt(r.MBps)).join(','));
    out(`${name}_sender_cpu_s_per_GiB`, fmt(median(runs.map((r) => r.cpu)), 3));
  } finally {
    ch.kill();
  }
}

export async function limits(file: string, cert: string, key: string, reps: number): Promise<void> {
  await series('limit_tcp_node_MBps', file, 'tcp', '', cert, key, reps);
  await series('limit_tls_node_aes128gcm_MBps', file, 'tls', 'TLS_AES_128_GCM_SHA256', cert, key, reps);
  await series('limit_tls_node_aes256gcm_MBps', file, 'tls', 'TLS_AES_256_GCM_SHA384', cert, key, reps);
}
