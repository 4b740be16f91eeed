/**
 * The floors of the transfer targets ftpsd misses (docs/performance.md, "Round 2: transfers"): bare Node
 * programs (no FTP) that do only the byte path, timed in their own process (`process.cpuUsage`, wall
 * time from the connection to the end), beside Python doing the same in C-speed loops. BENCH_FLOOR_MIB
 * MiB (512) per run, BENCH_FLOOR_REPS runs (3) of every mode, interleaved; the peer is always a Python
 * process of its own (its CPU is not counted).
 *
 * Receiving over TLS (STOR TLS), the bytes gathered into 1 MiB chunks written to a file in BENCH_FLOOR_DIR
 * (two writes in flight, as data/receive-file.ts does), from a Python TLS sender:
 * - `tls-recv-data`: Node TLS directly on the TCP socket, `'data'` events (a buffer per record);
 * - `tls-recv-user`: the same TLS socket reading into one reused 16 KiB buffer (data/user-buffer.ts),
 *   the cheapest receive Node's TLS offers (ftpsd's path adds the close_notify pipe: the ciphertext goes
 *   through one JS call per socket read);
 * - `tls-recv-python`: Python, `recv_into` a reused buffer of an `ssl` socket, 1 MiB `os.write`s.
 *
 * Sending a file (RETR), to a Python receiver that drops the bytes:
 * - `send-plain-K` / `send-tls-K`: Node reads the file into two reused K KiB buffers (`fs.read`) and
 *   writes each to the socket (the next read runs while one write is out), K in BENCH_FLOOR_SEND_KIB
 *   (256,1024), as data/send-file.ts does;
 * - `send-plain-python`: Python `socket.sendfile` (`sendfile(2)`: what pyftpdlib and vsftpd use);
 * - `send-tls-python`: Python, `readinto` a reused 256 KiB buffer and `sendall` on an `ssl` socket.
 *
 *   flock /tmp/ftpsd-bench.lock node --import tsx bench/transfer-floor.ts [MODE...]
 *
 * Prints `floor_MODE_cpu_s_per_GiB`, `floor_MODE_MBps` (medians) and `_runs` lines.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, createSecureContext } from 'node:tls';
import { generateSelfSigned } from '../src/tls/self-signed.js';
import { canReadInto, readInto } from '../src/data/user-buffer.js';
import { PY_RECEIVE_TO_FILE } from './lib/python-receiver.js';
import { median } from './lib/stats.js';

const MIB = 1024 * 1024;
const SIZE_MIB = Number(process.env.BENCH_FLOOR_MIB ?? 512);
const REPS = Number(process.env.BENCH_FLOOR_REPS ?? 3);
const DIR = process.env.BENCH_FLOOR_DIR ?? tmpdir();
const SEND_KIB = (process.env.BENCH_FLOOR_SEND_KIB ?? '256,1024').split(',').map(Number);
const SOURCE = join(DIR, `ftpsd-floor-src-${SIZE_MIB}.bin`);
const TARGET = join(DIR, `ftpsd-floor-out-${process.pid}.bin`);
const CERT = join(DIR, `ftpsd-floor-cert-${process.pid}.pem`);
const KEY = join(DIR, `ftpsd-floor-key-${process.pid}.pem`);

interface Result {
  cpu: number;
  wall: number;
}

const PY_TLS = String.raw`
import os, resource, socket, ssl, sys, time
def client(port):
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)))
def server_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3]); return ctx
${PY_RECEIVE_TO_FILE}def send_tls(s, path):
    f = open(path, 'rb'); b = bytearray(256 * 1024)
    while True:
        n = f.readinto(b)
        if not n: break
        s.sendall(memoryview(b)[:n])
    try:
        s.unwrap()
    except (ssl.SSLError, OSError):
        pass
`;

/** Runs a Python program; resolves with its stdout (a peer's failure is its own: `peer` resolves anyway). */
function python(script: string, args: string[], onPort?: (port: number) => void, peer = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PY_TLS + script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let told = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      if (onPort && !told && lines.length > 1) {
        told = true;
        onPort(Number(lines[0]));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 || peer ? resolve(out) : reject(new Error(`python exited ${code}`))));
  });
}

/** A Python TLS client sending SOURCE (reads of 256 KiB, sendall). */
const sendTls = (port: number) =>
  python(
    String.raw`
s = client(int(sys.argv[1])); send_tls(s, sys.argv[4])
s.close()
`,
    [String(port), CERT, KEY, SOURCE],
    undefined,
    true,
  );

/** A Python receiver that drops what it gets (plain or TLS), until the end. */
const drain = (port: number, tls: boolean) =>
  python(
    String.raw`
raw = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s = raw
if sys.argv[5] == 'tls':
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(raw)
b = bytearray(256 * 1024)
while True:
    try:
        n = s.recv_into(b)
    except (ssl.SSLError, OSError):
        break
    if not n: break
`,
    [String(port), CERT, KEY, SOURCE, tls ? 'tls' : 'plain'],
    undefined,
    true,
  );

/** Gathers received bytes into 1 MiB chunks written to TARGET, two writes in flight (receive-file.ts). */
class FileSink {
  private readonly fd = fs.openSync(TARGET, 'w');
  private readonly pool: Buffer[] = [];
  private chunk: Buffer | undefined;
  private filled = 0;
  private inFlight = 0;
  private ended = false;
  constructor(
    private readonly pause: () => void,
    private readonly resume: () => void,
    private readonly done: () => void,
  ) {}

  /** Takes n bytes of `from`; false: stop reading (resume() is called when a write is done). */
  take(from: Buffer, n: number): boolean {
    let off = 0;
    while (off < n) {
      this.chunk ??= this.pool.pop() ?? Buffer.allocUnsafeSlow(MIB);
      const c = from.copy(this.chunk, this.filled, off, n);
      this.filled += c;
      off += c;
      if (this.filled === MIB) this.flush();
    }
    return this.inFlight < 2;
  }

  end(): void {
    this.ended = true;
    if (this.filled > 0) this.flush();
    else if (this.inFlight === 0) this.finish();
  }

  private flush(): void {
    const buf = this.chunk!;
    const n = this.filled;
    this.chunk = undefined;
    this.filled = 0;
    this.inFlight++;
    fs.write(this.fd, buf, 0, n, null, (err) => {
      if (err) throw err;
      this.inFlight--;
      this.pool.push(buf);
      if (this.ended) {
        if (this.inFlight === 0) this.finish();
      } else if (this.inFlight < 2) this.resume();
    });
    if (this.inFlight >= 2) this.pause();
  }

  private finish(): void {
    fs.closeSync(this.fd);
    this.done();
  }
}

/** Runs a Node side on one accepted connection; `peer(port)` is the Python process. */
function nodeRun(peer: (port: number) => Promise<string>, serve: (socket: Socket, done: () => void) => void): Promise<Result> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      server.close();
      socket.on('error', reject);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      serve(socket, () => {
        const cpu = process.cpuUsage(cpu0);
        resolve({ cpu: (cpu.user + cpu.system) / 1e6, wall: (performance.now() - t0) / 1000 });
      });
    });
    server.listen(0, '127.0.0.1', () => peer((server.address() as { port: number }).port).catch(reject));
  });
}

function tlsServer(socket: Socket): TLSSocket {
  const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
  tls.on('error', () => {});
  return tls;
}

function tlsReceive(user: boolean): Promise<Result> {
  return nodeRun(sendTls, (socket, done) => {
    const tls = tlsServer(socket);
    const sink = new FileSink(
      () => tls.pause(),
      () => tls.resume(),
      () => (tls.destroy(), done()),
    );
    tls.once('end', () => sink.end());
    if (!user) {
      tls.on('data', (d: Buffer) => sink.take(d, d.length));
      return;
    }
    const record = Buffer.allocUnsafeSlow(16 * 1024);
    tls.once('secure', () => {
      if (tls.readableLength > 0 || !canReadInto(tls)) throw new Error('user buffers not available');
      readInto(tls, record, (n) => sink.take(record, n));
      tls.resume();
    });
  });
}

function nodeSend(tlsOn: boolean, kib: number): Promise<Result> {
  return nodeRun(
    (port) => drain(port, tlsOn),
    (socket, done) => {
      const out: Socket = tlsOn ? tlsServer(socket) : socket;
      const start = () => {
        const fd = fs.openSync(SOURCE, 'r');
        const bufs = [Buffer.allocUnsafeSlow(kib * 1024), Buffer.allocUnsafeSlow(kib * 1024)];
        let i = 0;
        let writing: Promise<void> = Promise.resolve();
        const read = (b: Buffer) =>
          new Promise<number>((res, rej) => fs.read(fd, b, 0, b.length, null, (err, n) => (err ? rej(err) : res(n))));
        void (async () => {
          for (;;) {
            const b = bufs[i++ % 2]!;
            const n = await read(b);
            await writing;
            if (n === 0) break;
            writing = new Promise<void>((res) => out.write(n === b.length ? b : b.subarray(0, n), () => res()));
          }
          fs.closeSync(fd);
          out.end(() => {
            out.destroy();
            done();
          });
        })();
      };
      if (tlsOn) out.once('secure', start);
      else start();
    },
  );
}

async function pythonRecvTls(): Promise<Result> {
  const out = await python(
    String.raw`
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
c, _ = srv.accept()
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
s = server_ctx().wrap_socket(c, server_side=True)
receive_to_file(s, sys.argv[1], ssl.SSLEOFError)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, time.monotonic() - t0, flush=True)
`,
    [TARGET, CERT, KEY],
    (port) => void sendTls(port),
  );
  const [cpu, wall] = out.trim().split('\n')[1]!.split(' ').map(Number) as [number, number];
  return { cpu, wall };
}

async function pythonSend(tlsOn: boolean): Promise<Result> {
  const out = await python(
    String.raw`
srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
c, _ = srv.accept()
r0 = resource.getrusage(resource.RUSAGE_SELF); t0 = time.monotonic()
if sys.argv[4] == 'tls':
    send_tls(server_ctx().wrap_socket(c, server_side=True), sys.argv[1])
else:
    c.sendfile(open(sys.argv[1], 'rb'))
try:
    c.shutdown(socket.SHUT_WR); c.recv(1)
except OSError:
    pass
c.close()
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, time.monotonic() - t0, flush=True)
`,
    [SOURCE, CERT, KEY, tlsOn ? 'tls' : 'plain'],
    (port) => void drain(port, tlsOn),
  );
  const [cpu, wall] = out.trim().split('\n')[1]!.split(' ').map(Number) as [number, number];
  return { cpu, wall };
}

if (!fs.existsSync(SOURCE) || fs.statSync(SOURCE).size !== SIZE_MIB * MIB) {
  const fd = fs.openSync(SOURCE, 'w');
  const block = Buffer.alloc(MIB, 0x5a);
  for (let i = 0; i < SIZE_MIB; i++) fs.writeSync(fd, block);
  fs.closeSync(fd);
}
const pair = await generateSelfSigned();
fs.writeFileSync(CERT, pair.cert);
fs.writeFileSync(KEY, pair.key);
const context = createSecureContext({ cert: pair.cert, key: pair.key });

const MODES: Record<string, () => Promise<Result>> = {
  'tls-recv-data': () => tlsReceive(false),
  'tls-recv-user': () => tlsReceive(true),
  'tls-recv-python': pythonRecvTls,
  ...Object.fromEntries(SEND_KIB.map((k) => [`send-plain-${k}`, () => nodeSend(false, k)])),
  'send-plain-python': () => pythonSend(false),
  ...Object.fromEntries(SEND_KIB.map((k) => [`send-tls-${k}`, () => nodeSend(true, k)])),
  'send-tls-python': () => pythonSend(true),
};
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(MODES);
const results = new Map<string, Result[]>(chosen.map((m) => [m, []]));
for (let r = 0; r < REPS; r++) {
  for (const mode of chosen) {
    const run = MODES[mode];
    if (!run) throw new Error(`unknown mode ${mode}; modes: ${Object.keys(MODES).join(' ')}`);
    const res = await run();
    results.get(mode)!.push(res);
    process.stderr.write(`# ${mode} run ${r + 1}: cpu ${res.cpu.toFixed(3)} s, wall ${res.wall.toFixed(3)} s\n`);
  }
}
for (const f of [TARGET, CERT, KEY]) fs.rmSync(f, { force: true });
const gib = SIZE_MIB / 1024;
console.log(`# ${SIZE_MIB} MiB per run, ${REPS} runs, Node ${process.version}`);
for (const [mode, rs] of results) {
  const key = mode.replaceAll('-', '_');
  const mbps = rs.map((x) => (SIZE_MIB * MIB) / 1e6 / x.wall);
  console.log(`floor_${key}_cpu_s_per_GiB ${(median(rs.map((x) => x.cpu)) / gib).toFixed(3)}`);
  console.log(`floor_${key}_MBps ${median(mbps).toFixed(0)}`);
  console.log(`floor_${key}_MBps_runs ${mbps.map((x) => x.toFixed(0)).join(',')}`);
}
