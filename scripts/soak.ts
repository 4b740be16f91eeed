/**
 * `npm run soak`: a bounded load run against ftpsd started as a child process on loopback.
 *
 * Hundreds of concurrent clients log in (plain, explicit FTPS, implicit FTPS) and do random work:
 * PASV/EPSV, RETR (verified), STOR/APPE (tracked), LIST/MLSD/NLST, MKD/RMD, DELE, RNFR+RNTO, ABOR in the
 * middle of transfers, and disconnects (RST or FIN, also mid-transfer). When the load ends it checks:
 *  - the process is alive and never crashed;
 *  - memory is back near its start (RSS from /proc; and the heap after a forced GC);
 *  - no file descriptor leaked (/proc/PID/fd before and after);
 *  - every upload that got 226 is byte-identical on disk to what was sent (unless the same client later
 *    deleted or renamed it, which is tracked; files whose upload was cut or aborted are not checked).
 * Exits non-zero on any failure.
 *
 * Options: --duration S (default 180), --clients N (default 300), --max-file BYTES (default 262144),
 * --seed N.
 */
import { createHash, randomInt } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ChildServer, REPO, removeTempDirs, tempDir } from '../test/hardening/child-server.js';
import { RawClient, type FtpReply } from '../test/helpers/raw-client.js';
import { mulberry32, type Rng } from './lib/rng.js';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '180' },
    clients: { type: 'string', default: '300' },
    'max-file': { type: 'string', default: String(256 * 1024) },
    seed: { type: 'string' },
  },
});
const DURATION = Number(opts.duration) * 1000;
const CLIENTS = Number(opts.clients);
const MAX_FILE = Number(opts['max-file']);
const SEED = opts.seed !== undefined ? Number(opts.seed) : randomInt(1, 2 ** 31 - 1);
const SHARED_SIZE = 8 * 1024 * 1024;
const REPLY_MS = 120_000;
const MiB = 1024 * 1024;

// --- content that can be regenerated: a file is a list of segments, each (seed, length) ----------------

interface Segment {
  seed: number;
  length: number;
}

function segmentBytes(seg: Segment): Buffer {
  const rng = mulberry32(seg.seed);
  const out = Buffer.alloc(seg.length);
  for (let i = 0; i < seg.length; i += 4) {
    const v = (rng() * 2 ** 32) >>> 0;
    out[i] = v & 255;
    if (i + 1 < seg.length) out[i + 1] = (v >>> 8) & 255;
    if (i + 2 < seg.length) out[i + 2] = (v >>> 16) & 255;
    if (i + 3 < seg.length) out[i + 3] = v >>> 24;
  }
  return out;
}

function digestOf(segments: Segment[]): string {
  const h = createHash('sha256');
  for (const s of segments) h.update(segmentBytes(s));
  return h.digest('hex');
}

// --- figures --------------------------------------------------------------------------------------

const stats = {
  sessions: 0,
  sessionsTls: 0,
  ops: new Map<string, number>(),
  bytesUp: 0,
  bytesDown: 0,
  aborts: 0,
  cuts: 0,
  problems: [] as string[],
  verifiedDownloads: 0,
};

function count(op: string): void {
  stats.ops.set(op, (stats.ops.get(op) ?? 0) + 1);
}

function problem(text: string): void {
  if (stats.problems.length < 50) stats.problems.push(text);
  else if (stats.problems.length === 50) stats.problems.push('(more problems not shown)');
}

// --- one client -----------------------------------------------------------------------------------

interface TrackedFile {
  segments: Segment[];
}

class Cut extends Error {}

class SoakClient {
  /** Files this client uploaded with 226, by name in its directory. */
  readonly files = new Map<string, TrackedFile>();
  private counter = 0;
  private readonly dir: string;

  constructor(
    readonly id: number,
    private readonly rng: Rng,
    private readonly ports: { explicit: number; implicit: number },
  ) {
    this.dir = `c${id}`;
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng() * items.length)]!;
  }

  private fileSize(): number {
    const r = this.rng();
    if (r < 0.2) return Math.floor(this.rng() * 100);
    if (r < 0.8) return Math.floor(this.rng() * 16 * 1024);
    return Math.floor(this.rng() * MAX_FILE);
  }

  async run(until: number): Promise<void> {
    let first = true;
    while (Date.now() < until) {
      try {
        await this.session(until, first);
        first = false;
      } catch (err) {
        if (!(err instanceof Cut)) problem(`client ${this.id}: ${(err as Error).message}`);
      }
    }
  }

  private async expect(c: RawClient, codes: number[], what: string): Promise<FtpReply> {
    const r = await c.reply(REPLY_MS);
    if (!codes.includes(r.code)) throw new Error(`${what}: expected ${codes.join('/')}, got ${r.text.slice(0, 200)}`);
    return r;
  }

  private async cmd(c: RawClient, line: string, codes: number[]): Promise<FtpReply> {
    c.send(line);
    return this.expect(c, codes, line.startsWith('PASS') ? 'PASS' : line);
  }

  private async session(until: number, first: boolean): Promise<void> {
    const kind = this.pick(['plain', 'plain', 'explicit', 'explicit', 'implicit'] as const);
    const c =
      kind === 'implicit'
        ? await RawClient.connect(this.ports.implicit, '127.0.0.1', { implicit: true, greeting: false })
        : await RawClient.connect(this.ports.explicit, '127.0.0.1', { greeting: false });
    stats.sessions++;
    try {
      await this.expect(c, [220], 'greeting');
      if (kind === 'explicit') {
        await this.cmd(c, 'AUTH TLS', [234]);
        await c.upgrade();
      }
      await this.cmd(c, 'USER soak', [331]);
      await this.cmd(c, 'PASS secret', [230]);
      let prot = false;
      if (kind !== 'plain') {
        stats.sessionsTls++;
        await this.cmd(c, 'PBSZ 0', [200]);
        prot = this.rng() < 0.7;
        await this.cmd(c, `PROT ${prot ? 'P' : 'C'}`, [200]);
      }
      await this.cmd(c, 'TYPE I', [200]);
      if (first) await this.cmd(c, `MKD ${this.dir}`, [257, 550]);
      await this.cmd(c, `CWD /${this.dir}`, [250]);
      const ops = 3 + Math.floor(this.rng() * 25);
      for (let i = 0; i < ops && Date.now() < until; i++) {
        await this.operation(c, prot);
        if (this.rng() < 0.3) await new Promise((r) => setTimeout(r, Math.floor(this.rng() * 50)));
      }
      if (this.rng() < 0.05) {
        stats.cuts++;
        this.cut(c);
        return;
      }
      await this.cmd(c, 'QUIT', [221]);
    } finally {
      c.close();
    }
  }

  private cut(c: RawClient): void {
    if (this.rng() < 0.5) c.raw.resetAndDestroy();
    else c.raw.end();
    c.close();
  }

  /** A data connection: EPSV or PASV, TLS when PROT P. */
  private async dataConnection(c: RawClient): Promise<Socket> {
    return this.rng() < 0.5 ? c.epsv() : c.pasv();
  }

  private async protect(c: RawClient, data: Socket, prot: boolean): Promise<Socket | TLSSocket> {
    return prot ? c.protect(data) : data;
  }

  private async operation(c: RawClient, prot: boolean): Promise<void> {
    const r = this.rng();
    if (r < 0.25) return this.upload(c, prot, 'STOR');
    if (r < 0.32) return this.upload(c, prot, 'APPE');
    if (r < 0.5) return this.download(c, prot);
    if (r < 0.58) return this.listing(c, prot);
    if (r < 0.64) return this.abortedDownload(c, prot);
    if (r < 0.67) return this.abortedUpload(c, prot);
    if (r < 0.72) return this.rename(c);
    if (r < 0.77) return this.remove(c);
    if (r < 0.82) {
      count('MKD/RMD');
      const name = `d${this.counter++}`;
      await this.cmd(c, `MKD ${name}`, [257]);
      await this.cmd(c, `RMD ${name}`, [250]);
      return;
    }
    if (r < 0.85) return this.cutTransfer(c, prot);
    count('SIZE/MDTM/NOOP');
    await this.cmd(c, this.pick(['NOOP', 'PWD', 'SIZE /shared.bin', 'MDTM /shared.bin', 'STAT']), [200, 257, 213, 211]);
  }

  private async upload(c: RawClient, prot: boolean, verb: 'STOR' | 'APPE'): Promise<void> {
    const existing = [...this.files.keys()];
    const name = verb === 'APPE' && existing.length > 0 ? this.pick(existing) : `f${this.counter++}`;
    const seg: Segment = { seed: (this.rng() * 2 ** 31) >>> 0, length: this.fileSize() };
    const body = segmentBytes(seg);
    count(verb);
    const data = await this.dataConnection(c);
    c.send(`${verb} ${name}`);
    await this.expect(c, [150], verb);
    const out = await this.protect(c, data, prot);
    await new Promise<void>((resolve) => out.end(body, () => resolve()));
    await this.expect(c, [226], `${verb} ${name}`);
    stats.bytesUp += body.length;
    const before = verb === 'APPE' ? (this.files.get(name)?.segments ?? []) : [];
    this.files.set(name, { segments: [...before, seg] });
  }

  private async download(c: RawClient, prot: boolean): Promise<void> {
    const own = [...this.files.entries()];
    const shared = own.length === 0 || this.rng() < 0.3;
    const [name, file] = shared ? ['/shared.bin', undefined] : this.pick(own);
    count('RETR');
    const data = await this.dataConnection(c);
    c.send(`RETR ${name}`);
    await this.expect(c, [150], 'RETR');
    const input = await this.protect(c, data, prot);
    const h = createHash('sha256');
    let n = 0;
    input.on('data', (d: Buffer) => {
      h.update(d);
      n += d.length;
    });
    await new Promise((r) => input.once('close', r));
    await this.expect(c, [226], `RETR ${name}`);
    stats.bytesDown += n;
    const want = shared ? sharedDigest : digestOf(file!.segments);
    if (h.digest('hex') !== want) problem(`client ${this.id}: RETR ${name} (${n} bytes) differs from what was uploaded`);
    else stats.verifiedDownloads++;
  }

  private async listing(c: RawClient, prot: boolean): Promise<void> {
    const verb = this.pick(['LIST', 'MLSD', 'NLST', 'LIST /', 'MLSD /']);
    count(verb.split(' ')[0]!);
    const data = await this.dataConnection(c);
    c.send(verb);
    await this.expect(c, [150], verb);
    const input = await this.protect(c, data, prot);
    input.resume();
    await new Promise((r) => input.once('close', r));
    await this.expect(c, [226], verb);
  }

  /** RETR of the shared file, ABOR after a little of it arrived: 426 then 226 (or 226 then 225/226). */
  private async abortedDownload(c: RawClient, prot: boolean): Promise<void> {
    count('ABOR (download)');
    stats.aborts++;
    const data = await this.dataConnection(c);
    c.send('RETR /shared.bin');
    await this.expect(c, [150], 'RETR for ABOR');
    const input = await this.protect(c, data, prot);
    await new Promise<void>((resolve) => {
      input.once('data', () => resolve());
      input.once('close', () => resolve());
    });
    c.send('ABOR');
    const first = await this.expect(c, [426, 226], 'ABOR');
    await this.expect(c, first.code === 426 ? [226] : [225, 226], 'ABOR');
    input.destroy();
    data.destroy();
  }

  /** STOR, ABOR in the middle: the file is not checked afterwards (and never used again). */
  private async abortedUpload(c: RawClient, prot: boolean): Promise<void> {
    count('ABOR (upload)');
    stats.aborts++;
    const name = `aborted${this.counter++}`;
    const data = await this.dataConnection(c);
    c.send(`STOR ${name}`);
    await this.expect(c, [150], 'STOR for ABOR');
    const out = await this.protect(c, data, prot);
    out.write(segmentBytes({ seed: 1, length: 64 * 1024 }));
    await new Promise((r) => setTimeout(r, 5));
    c.send('ABOR');
    const first = await this.expect(c, [426, 226], 'ABOR upload');
    await this.expect(c, first.code === 426 ? [226] : [225, 226], 'ABOR upload');
    out.destroy();
    data.destroy();
  }

  /** A transfer whose connection goes away: the data connection (RST) or the whole session. */
  private async cutTransfer(c: RawClient, prot: boolean): Promise<void> {
    count('cut mid-transfer');
    stats.cuts++;
    const upload = this.rng() < 0.5;
    const data = await this.dataConnection(c);
    c.send(upload ? `STOR cut${this.counter++}` : 'RETR /shared.bin');
    await this.expect(c, [150], 'transfer to cut');
    const stream = await this.protect(c, data, prot);
    if (upload) stream.write(segmentBytes({ seed: 2, length: 32 * 1024 }));
    else
      await new Promise<void>((resolve) => {
        stream.once('data', () => resolve());
        stream.once('close', () => resolve());
      });
    if (this.rng() < 0.5) {
      data.resetAndDestroy();
      await this.expect(c, [426, 226], 'after a cut data connection');
      return;
    }
    this.cut(c);
    data.destroy();
    throw new Cut();
  }

  private async rename(c: RawClient): Promise<void> {
    const names = [...this.files.keys()];
    if (names.length === 0) return;
    count('RNFR/RNTO');
    const from = this.pick(names);
    const to = `r${this.counter++}`;
    await this.cmd(c, `RNFR ${from}`, [350]);
    await this.cmd(c, `RNTO ${to}`, [250]);
    this.files.set(to, this.files.get(from)!);
    this.files.delete(from);
  }

  private async remove(c: RawClient): Promise<void> {
    const names = [...this.files.keys()];
    if (names.length === 0 || this.rng() < 0.5) return;
    count('DELE');
    const name = this.pick(names);
    await this.cmd(c, `DELE ${name}`, [250]);
    this.files.delete(name);
  }
}

// --- the run --------------------------------------------------------------------------------------

let sharedDigest = '';

async function sha256File(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    const s = createReadStream(path);
    s.on('data', (d) => h.update(d));
    s.on('end', () => resolve(h.digest('hex')));
    s.on('error', () => resolve(undefined));
  });
}

function memOf(server: ChildServer): Promise<{ rss: number; heapUsed: number } | undefined> {
  const mark = server.stderr.length;
  server.signal('SIGUSR2');
  return new Promise((resolve) => {
    const deadline = Date.now() + 10_000;
    const poll = () => {
      const m = /MEM (\{.*\})/.exec(server.stderr.slice(mark));
      if (m) return resolve(JSON.parse(m[1]!) as { rss: number; heapUsed: number });
      if (Date.now() > deadline) return resolve(undefined);
      setTimeout(poll, 50);
    };
    poll();
  });
}

function fmt(bytes: number | undefined): string {
  return bytes === undefined ? '?' : `${(bytes / MiB).toFixed(1)} MiB`;
}

async function main(): Promise<number> {
  console.log(`soak: ${CLIENTS} clients for ${DURATION / 1000} s, files up to ${MAX_FILE} bytes, seed ${SEED}`);
  const dir = await tempDir('ftpsd-soak-');
  const root = join(dir, 'root');
  await mkdir(root, { recursive: true });
  const shared = segmentBytes({ seed: 4242, length: SHARED_SIZE });
  sharedDigest = createHash('sha256').update(shared).digest('hex');
  await writeFile(join(root, 'shared.bin'), shared);
  await writeFile(
    join(dir, 'ftpsd.yaml'),
    [
      'timeouts:', '  dataConnectMs: 60000', '  handshakeMs: 60000', '  stalledTransferMs: 120000',
      'limits:', '  loginFailureDelayMs: 10', '  maxSessions: 100000', '  maxSessionsPerAddress: 100000', '  maxSessionsPerUser: 100000',
      'security:', '  ban: off', '',
    ].join('\n'),
  );
  const probe = pathToFileURL(join(REPO, 'scripts/lib/memory-probe.mjs')).href;
  const server = await ChildServer.start(
    ['--config', join(dir, 'ftpsd.yaml'), '--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0', '--root', root, '--state-dir', join(dir, 'state'), '--user', 'soak:secret', '--tls-required', 'off', '--log-level', 'warn'],
    {},
    ['--expose-gc', '--import', probe],
  );
  const ports = { explicit: server.port(), implicit: server.port('implicit') };
  const master = mulberry32(SEED);

  // Warm up (code paths, TLS contexts, buffers), then take the starting figures.
  const warm = Array.from({ length: 10 }, (_, i) => new SoakClient(-1 - i, mulberry32((master() * 2 ** 31) >>> 0), ports));
  await Promise.all(warm.map((c) => c.run(Date.now() + 3000)));
  await new Promise((r) => setTimeout(r, 2000));
  const startMem = await memOf(server);
  const startRss = server.rss();
  const startFds = server.fdCount();
  console.log(`start: rss ${fmt(startRss)}, heap after GC ${fmt(startMem?.heapUsed)}, fds ${startFds ?? '?'}`);

  let peakRss = startRss ?? 0;
  let peakFds = startFds ?? 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, server.rss() ?? 0);
    peakFds = Math.max(peakFds, server.fdCount() ?? 0);
  }, 500);
  const progress = setInterval(() => {
    const ops = [...stats.ops.values()].reduce((a, b) => a + b, 0);
    console.log(`  ${stats.sessions} sessions, ${ops} operations, up ${fmt(stats.bytesUp)}, down ${fmt(stats.bytesDown)}, rss ${fmt(server.rss())}, fds ${server.fdCount() ?? '?'}, problems ${stats.problems.length}`);
  }, 15_000);

  const until = Date.now() + DURATION;
  const clients = Array.from({ length: CLIENTS }, (_, i) => new SoakClient(i, mulberry32((master() * 2 ** 31) >>> 0), ports));
  // Ramp up over a few seconds rather than 300 handshakes in the same millisecond.
  await Promise.all(clients.map(async (c, i) => {
    await new Promise((r) => setTimeout(r, Math.floor((i / CLIENTS) * 5000)));
    await c.run(until);
  }));
  clearInterval(progress);
  clearInterval(sampler);
  const alive = server.alive;
  console.log(`load done; letting the server settle`);

  // Settle: every session is gone when the fd count is back; give it up to 60 s.
  const settleUntil = Date.now() + 60_000;
  while (alive && startFds !== undefined && (server.fdCount() ?? 0) > startFds && Date.now() < settleUntil) await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 2000));
  const endFds = server.fdCount();
  const endMem = alive ? await memOf(server) : undefined;
  const endRss = server.rss();

  // Every upload that got 226 (and was not deleted or renamed away since) is on disk as sent.
  let checked = 0;
  let lost = 0;
  for (const c of clients) {
    for (const [name, file] of c.files) {
      checked++;
      const got = await sha256File(join(root, `c${c.id}`, name));
      if (got !== digestOf(file.segments)) {
        lost++;
        problem(`upload lost or changed: c${c.id}/${name} (${got === undefined ? 'missing' : 'different content'})`);
      }
    }
  }

  const stopped = alive ? await Promise.race([server.stop('SIGTERM'), new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]) : server.exit;
  const entries = (() => {
    try {
      return readdirSync(root).length;
    } catch {
      return 0;
    }
  })();
  await removeTempDirs();

  const ops = [...stats.ops.values()].reduce((a, b) => a + b, 0);
  console.log('\n== soak figures');
  console.log(`sessions:        ${stats.sessions} (${stats.sessionsTls} with TLS), clients ${CLIENTS}, ${DURATION / 1000} s`);
  console.log(`operations:      ${ops}  ${[...stats.ops.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`bytes:           up ${fmt(stats.bytesUp)}, down ${fmt(stats.bytesDown)}; verified downloads ${stats.verifiedDownloads}`);
  console.log(`aborts/cuts:     ${stats.aborts} ABOR, ${stats.cuts} disconnects`);
  console.log(`memory (rss):    start ${fmt(startRss)}, peak ${fmt(peakRss)}, end ${fmt(endRss)}`);
  console.log(`heap after GC:   start ${fmt(startMem?.heapUsed)}, end ${fmt(endMem?.heapUsed)}`);
  console.log(`fds:             start ${startFds ?? '?'}, peak ${peakFds}, end ${endFds ?? '?'} (leaked ${startFds !== undefined && endFds !== undefined ? Math.max(0, endFds - startFds) : '?'})`);
  console.log(`uploads checked: ${checked} files on disk (${entries} client dirs), lost ${lost}`);

  const failures: string[] = [];
  if (!alive || server.crash) failures.push(`server died: ${server.crash ?? JSON.stringify(server.exit)}`);
  if (stopped?.code !== 0) failures.push(`server did not exit cleanly on SIGTERM: ${JSON.stringify(stopped)}`);
  if (startFds !== undefined && endFds !== undefined && endFds > startFds) failures.push(`${endFds - startFds} file descriptors leaked`);
  if (lost > 0) failures.push(`${lost} uploads lost or changed`);
  if (startMem && endMem && endMem.heapUsed > startMem.heapUsed * 1.5 + 16 * MiB) failures.push(`heap grew from ${fmt(startMem.heapUsed)} to ${fmt(endMem.heapUsed)}`);
  if (startRss && endRss && endRss > startRss + Math.max(128 * MiB, startRss)) failures.push(`rss did not come back: ${fmt(startRss)} -> ${fmt(endRss)}`);
  const errors = server.logs().filter((l) => (l.level as number) >= 50);
  if (errors.length > 0) failures.push(`server logged ${errors.length} errors, first: ${JSON.stringify(errors[0]).slice(0, 400)}`);
  if (stats.problems.length > 0) failures.push(`${stats.problems.length} client-side problems:\n  ${stats.problems.slice(0, 20).join('\n  ')}`);
  if (failures.length === 0) {
    console.log('\nsoak: ok');
    return 0;
  }
  console.log(`\nsoak: FAILED\n- ${failures.join('\n- ')}`);
  return 1;
}

process.exitCode = await main();
