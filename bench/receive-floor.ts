/**
 * The floor of a plain upload's receive side in Node: a bare TCP server (no FTP) receiving BENCH_FLOOR_MIB
 * MiB (512) from a Python sender (`socket.sendfile`, its own process), measured in the receiving process
 * (`process.cpuUsage`, wall time from the first connection to the end). Modes, each run in turn,
 * BENCH_FLOOR_REPS times (3), interleaved:
 *
 * - `data`: `'data'` events, bytes dropped (what a stream pipeline's source costs);
 * - `onread`: an accepted socket moved to a `net.Socket` with `onread` (one reused 256 KiB buffer),
 *   bytes dropped: the cheapest receive Node offers;
 * - `onread-file`: `onread` plus what ftpsd's upload path adds (data/receive-file.ts): copies into 1 MiB
 *   chunks, two in flight, written with `fs.write` to a file in BENCH_FLOOR_DIR (the OS temp dir);
 * - `python`: a Python receiver, `recv_into` one reused 256 KiB buffer and write 1 MiB chunks to a file
 *   (its own process, timed by itself): what a C-speed loop costs on this machine.
 *
 *   flock /tmp/ftpsd-bench.lock node --import tsx bench/receive-floor.ts
 *
 * Prints `floor_MODE_user_s`, `floor_MODE_sys_s`, `floor_MODE_MBps` (medians) and `_runs` lines.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PY_RECEIVE_TO_FILE } from './lib/python-receiver.js';
import { median } from './lib/stats.js';

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_FLOOR_MIB ?? 512);
const REPS = Number(process.env.BENCH_FLOOR_REPS ?? 3);
const DIR = process.env.BENCH_FLOOR_DIR ?? tmpdir();
const SOURCE = join(DIR, `ftpsd-floor-src-${SIZE_MIB}.bin`);
const TARGET = join(DIR, `ftpsd-floor-out-${process.pid}.bin`);
const MODES = ['data', 'onread', 'onread-file', 'python'] as const;
type Mode = (typeof MODES)[number];

interface Result {
  user: number;
  sys: number;
  wall: number;
}

const sender = (port: number) =>
  spawn('python3', ['-c', `import socket\ns=socket.create_connection(('127.0.0.1',${port}))\ns.sendfile(open(${JSON.stringify(SOURCE)},'rb'))\ns.close()`], { stdio: 'inherit' });

function receiveNode(mode: Exclude<Mode, 'python'>): Promise<Result> {
  return new Promise((resolve, reject) => {
    const readBuffer = Buffer.allocUnsafeSlow(256 * 1024);
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => {
      server.close();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const finish = () => {
        const cpu = process.cpuUsage(cpu0);
        resolve({ user: cpu.user / 1e6, sys: cpu.system / 1e6, wall: (performance.now() - t0) / 1000 });
      };
      if (mode === 'data') {
        accepted.on('data', () => {});
        accepted.on('end', () => (accepted.destroy(), finish()));
        accepted.resume();
        return;
      }
      const internals = accepted as unknown as { _handle: object | null };
      const handle = internals._handle!;
      internals._handle = null;
      accepted.destroy();
      const fd = mode === 'onread-file' ? fs.openSync(TARGET, 'w') : -1;
      const pool: Buffer[] = [];
      let chunk: Buffer | undefined;
      let filled = 0;
      let inFlight = 0;
      let paused = false;
      let ended = false;
      const done = () => {
        if (fd >= 0) fs.closeSync(fd);
        socket.destroy();
        finish();
      };
      const flush = () => {
        const buf = chunk!;
        const n = filled;
        chunk = undefined;
        filled = 0;
        inFlight++;
        fs.write(fd, buf, 0, n, null, (err) => {
          if (err) return reject(err);
          inFlight--;
          pool.push(buf);
          if (paused) {
            paused = false;
            socket._read(0);
          }
          if (ended && inFlight === 0) done();
        });
      };
      const socket: Socket = new Socket({
        handle,
        allowHalfOpen: true,
        onread: {
          buffer: readBuffer,
          callback: (n: number) => {
            if (fd < 0) return true;
            let off = 0;
            while (off < n) {
              chunk ??= pool.pop() ?? Buffer.allocUnsafeSlow(MIB);
              const c = readBuffer.copy(chunk, filled, off, n);
              filled += c;
              off += c;
              if (filled === chunk.length) flush();
            }
            if (inFlight < 2) return true;
            paused = true;
            return false;
          },
        },
      } as ConstructorParameters<typeof Socket>[0]);
      socket.on('error', reject);
      socket.on('end', () => {
        ended = true;
        if (fd < 0) return done();
        if (filled > 0) flush();
        else if (inFlight === 0) done();
      });
    });
    server.listen(0, '127.0.0.1', () => sender((server.address() as { port: number }).port).on('error', reject));
  });
}

function receivePython(): Promise<Result> {
  const script = String.raw`
import os, resource, socket, sys, time
${PY_RECEIVE_TO_FILE}
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
c, _ = srv.accept()
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
receive_to_file(c, sys.argv[1])
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime, time.monotonic() - t0, flush=True)
`;
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', script, TARGET], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let started = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      if (!started && lines.length > 1) {
        started = true;
        sender(Number(lines[0])).on('error', reject);
      }
    });
    child.on('error', reject);
    child.on('close', () => {
      const [user, sys, wall] = out.trim().split('\n')[1]!.split(' ').map(Number) as [number, number, number];
      resolve({ user, sys, wall });
    });
  });
}

if (!fs.existsSync(SOURCE) || fs.statSync(SOURCE).size !== SIZE_MIB * MIB) {
  const fd = fs.openSync(SOURCE, 'w');
  const block = Buffer.alloc(MIB, 0x5a);
  for (let i = 0; i < SIZE_MIB; i++) fs.writeSync(fd, block);
  fs.closeSync(fd);
}
const results = new Map<Mode, Result[]>(MODES.map((m) => [m, []]));
for (let r = 0; r < REPS; r++) {
  for (const mode of MODES) {
    const res = mode === 'python' ? await receivePython() : await receiveNode(mode);
    results.get(mode)!.push(res);
    process.stderr.write(`# ${mode} run ${r + 1}: user ${res.user.toFixed(3)} s, sys ${res.sys.toFixed(3)} s, wall ${res.wall.toFixed(3)} s\n`);
  }
}
fs.rmSync(TARGET, { force: true });
console.log(`# ${SIZE_MIB} MiB per run, ${REPS} runs, Node ${process.version}`);
for (const [mode, rs] of results) {
  const key = mode.replace('-', '_');
  const mbps = rs.map((x) => (SIZE_MIB * MIB) / 1e6 / x.wall);
  console.log(`floor_${key}_user_s ${median(rs.map((x) => x.user)).toFixed(3)}`);
  console.log(`floor_${key}_sys_s ${median(rs.map((x) => x.sys)).toFixed(3)}`);
  console.log(`floor_${key}_MBps ${median(mbps).toFixed(0)}`);
  console.log(`floor_${key}_MBps_runs ${mbps.map((x) => x.toFixed(0)).join(',')}`);
}
