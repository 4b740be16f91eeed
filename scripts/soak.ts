/**
 * `npm run soak`: a bounded load run against ftpsd started as a child process on loopback.
 *
 * Hundreds of concurrent clients log in (plain, explicit FTPS, implicit FTPS) and do random work:
 * PASV/EPSV, RETR (verified), STOR/APPE (tracked), LIST/MLSD/NLST, MKD/RMD, DELE, RNFR+RNTO, ABOR in the
 * middle of transfers, and disconnects (RST or FIN, also mid-transfer).
 *
 * Interrupted uploads (STOR of a new file, STOR over a tracked file, APPE, REST+STOR), with these faults
 * in the middle of the data:
 *  - `kill`: the client dies: control and data sockets closed at once, as the kernel does for a killed
 *    process (FIN, no TLS close_notify);
 *  - `process-kill`: a real client process (scripts/lib/soak-victim.ts) killed with SIGKILL
 *    (`--process-kills N` of them, spread over the run);
 *  - `reset`: the data connection reset (RST, `resetAndDestroy()`); the session goes on;
 *  - `no-close-notify` (PROT P): the TLS data connection closed by a plain TCP FIN, without close_notify;
 *  - `cut-control`: the control connection cut (RST or FIN), then the data connection ends cleanly.
 * Each one's target is then left alone, and checked at the end.
 *
 * When the load ends it checks:
 *  - the process is alive and never crashed;
 *  - memory is back near its start (RSS from /proc; and the heap after a forced GC);
 *  - no file descriptor leaked (/proc/PID/fd before and after);
 *  - every upload that got 226 is byte-identical on disk to what was sent (unless the same client later
 *    deleted or renamed it, which is tracked): 0 lost or corrupted files;
 *  - every interrupted upload left what the table of upload outcomes says: an interrupted new file does
 *    not exist, an interrupted overwrite left the old content byte-identical, an interrupted APPE left the
 *    old content plus a prefix of what was sent, an interrupted REST+STOR at offset O left the old first O
 *    bytes, then a prefix of what was sent (then either nothing or the old rest): 0 partial files under a
 *    final name. No interrupted upload may be answered 226. The one limit of the docs is counted apart:
 *    in stream mode without TLS (PROT C) a client killed mid-upload closes the data connection as a
 *    finished upload does, so the server cannot tell the two apart;
 *  - no upload temp file (`.ftpsd-upload-*`) is left once every session has ended.
 * Exits non-zero on any failure.
 *
 * Options: --duration S (default 180), --clients N (default 300), --max-file BYTES (default 262144),
 * --process-kills N (default 10), --seed N. A run is bounded: the load stops after --duration, settling
 * takes at most a minute more.
 */
import { spawn } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { ChildServer, REPO, removeTempDirs, tempDir } from '../test/hardening/child-server.js';
import { RawClient, type FtpReply } from '../test/helpers/raw-client.js';
import { mulberry32, type Rng } from './lib/rng.js';
import { contentOf, digestOf, segmentBytes, type Segment } from './lib/segments.js';

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '180' },
    clients: { type: 'string', default: '300' },
    'max-file': { type: 'string', default: String(256 * 1024) },
    'process-kills': { type: 'string', default: '10' },
    seed: { type: 'string' },
  },
});
const PROCESS_KILLS = Number(opts['process-kills']);
const DURATION = Number(opts.duration) * 1000;
const CLIENTS = Number(opts.clients);
const MAX_FILE = Number(opts['max-file']);
const SEED = opts.seed !== undefined ? Number(opts.seed) : randomInt(1, 2 ** 31 - 1);
const SHARED_SIZE = 8 * 1024 * 1024;
const REPLY_MS = 120_000;
const MiB = 1024 * 1024;

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
  /** Interrupted uploads, to check at the end. */
  interrupted: [] as Interrupted[],
};

type Fault = 'kill' | 'process-kill' | 'reset' | 'no-close-notify' | 'cut-control';
type InterruptedVerb = 'STOR new' | 'STOR over' | 'APPE' | 'REST+STOR';

/** An upload cut on purpose, and what its target held before. */
interface Interrupted {
  /** The file on disk, relative to the root. */
  path: string;
  verb: InterruptedVerb;
  fault: Fault;
  prot: boolean;
  /** The target's content before (undefined: a new file). */
  old: Segment[] | undefined;
  offset: number;
  /** The body the upload would have sent, and how many bytes of it were sent. */
  body: Segment;
  sent: number;
  /** The final reply, when the session lived to read it. */
  reply: number | undefined;
}

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

/** Sessions under PROT P, and the data connections whose TLS started before their transfer command. */
const protectedSessions = new WeakSet<RawClient>();
const earlyTls = new WeakMap<Socket, Promise<TLSSocket>>();

class Cut extends Error {}

/** Resolves at the first bytes on `stream`, or when it closes first. */
function firstDataOrClose(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    stream.once('data', () => resolve());
    stream.once('close', () => resolve());
  });
}

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
        if (prot) protectedSessions.add(c);
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

  /**
   * A data connection: EPSV or PASV. Under PROT P, half of them start TLS at once, before the transfer
   * command, as curl does (the server answers early: src/data/early-tls.ts); the rest after the 150.
   */
  private async dataConnection(c: RawClient): Promise<Socket> {
    const data = await (this.rng() < 0.5 ? c.epsv() : c.pasv());
    if (protectedSessions.has(c) && this.rng() < 0.5) {
      const tls = c.protect(data);
      tls.catch(() => {});
      earlyTls.set(data, tls);
    }
    return data;
  }

  private async protect(c: RawClient, data: Socket, prot: boolean): Promise<Socket | TLSSocket> {
    return prot ? (earlyTls.get(data) ?? c.protect(data)) : data;
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
    if (r < 0.83) return this.cutDownload(c, prot);
    if (r < 0.9) return this.interruptedUpload(c, prot);
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
    await firstDataOrClose(input);
    await this.abor(c, 'ABOR');
    input.destroy();
    data.destroy();
  }

  /** ABOR with a transfer running: 426 then 226, or (it had just ended) 226 then 225 or 226. */
  private async abor(c: RawClient, what: string): Promise<void> {
    c.send('ABOR');
    const first = await this.expect(c, [426, 226], what);
    await this.expect(c, first.code === 426 ? [226] : [225, 226], what);
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
    await this.abor(c, 'ABOR upload');
    out.destroy();
    data.destroy();
  }

  /** A download whose connection goes away: the data connection (RST) or the whole session. */
  private async cutDownload(c: RawClient, prot: boolean): Promise<void> {
    count('cut mid-download');
    stats.cuts++;
    const data = await this.dataConnection(c);
    c.send('RETR /shared.bin');
    await this.expect(c, [150], 'download to cut');
    const stream = await this.protect(c, data, prot);
    await firstDataOrClose(stream);
    if (this.rng() < 0.5) {
      data.resetAndDestroy();
      await this.expect(c, [426, 226], 'after a cut data connection');
      return;
    }
    this.cut(c);
    data.destroy();
    throw new Cut();
  }

  /**
   * An upload interrupted on purpose (see the file comment): its target is taken out of this client's
   * files (never used again) and checked at the end.
   */
  private async interruptedUpload(c: RawClient, prot: boolean): Promise<void> {
    const names = [...this.files.keys()];
    const verb: InterruptedVerb = names.length === 0 ? 'STOR new' : this.pick(['STOR new', 'STOR over', 'APPE', 'REST+STOR'] as const);
    const faults: Fault[] = prot ? ['kill', 'reset', 'no-close-notify', 'cut-control'] : ['kill', 'reset', 'cut-control'];
    const fault = this.pick(faults);
    const name = verb === 'STOR new' ? `x${this.counter++}` : this.pick(names);
    const old = verb === 'STOR new' ? undefined : this.files.get(name)!.segments;
    const oldSize = old?.reduce((n, s) => n + s.length, 0) ?? 0;
    const offset = verb === 'REST+STOR' ? Math.floor(this.rng() * (oldSize + 1)) : 0;
    // Big enough to be cut in the middle: at least 64 KiB, of which about half is sent.
    const body: Segment = { seed: (this.rng() * 2 ** 31) >>> 0, length: 64 * 1024 + Math.floor(this.rng() * MAX_FILE) };
    const sent = Math.floor(body.length * (0.2 + this.rng() * 0.6));
    this.files.delete(name);
    const record: Interrupted = { path: `c${this.id}/${name}`, verb, fault, prot, old, offset, body, sent, reply: undefined };
    stats.interrupted.push(record);
    count(`interrupted upload (${fault})`);
    const data = await this.dataConnection(c);
    if (verb === 'REST+STOR') await this.cmd(c, `REST ${offset}`, [350]);
    c.send(`${verb === 'APPE' ? 'APPE' : 'STOR'} ${name}`);
    await this.expect(c, [150], `${verb} to interrupt`);
    const out = await this.protect(c, data, prot);
    await new Promise<void>((resolve) => out.write(segmentBytes(body).subarray(0, sent), () => resolve()));
    await new Promise((r) => setTimeout(r, 5 + Math.floor(this.rng() * 30)));
    switch (fault) {
      case 'kill':
        // As the kernel closes a killed process's sockets: both at once, FIN, no close_notify.
        c.raw.destroy();
        data.destroy();
        throw new Cut();
      case 'reset':
        data.resetAndDestroy();
        record.reply = (await c.reply(REPLY_MS)).code;
        out.destroy();
        return;
      case 'no-close-notify':
        // FIN on the TCP connection under the TLS one: the TLS layer never sends its close_notify.
        data.end();
        record.reply = (await c.reply(REPLY_MS)).code;
        out.destroy();
        data.destroy();
        return;
      case 'cut-control':
        if (this.rng() < 0.5) c.raw.resetAndDestroy();
        else c.raw.destroy();
        await new Promise((r) => setTimeout(r, 20));
        // The data connection then ends as a finished upload does (close_notify under TLS).
        await new Promise<void>((resolve) => {
          out.end(() => resolve());
          setTimeout(resolve, 5000).unref();
        });
        data.destroy();
        throw new Cut();
      default:
        throw new Error(`unknown fault ${fault as string}`);
    }
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

// --- interrupted uploads: real client processes killed, and the checks at the end ------------------

/** Files of the killed client processes: `k/o<i>.bin`, written before the server starts. */
function victimFile(i: number): Segment[] {
  const rng = mulberry32(7000 + i);
  return [{ seed: 7000 + i, length: 1 + Math.floor(rng() * MAX_FILE) }];
}

/**
 * `count` client processes, one after the other, spread over the run: each starts an interrupted upload
 * (see soak-victim.ts) and is killed with SIGKILL once it sent part of the body.
 */
async function processKills(kills: number, port: number, until: number, rng: Rng): Promise<void> {
  const start = Date.now();
  const span = until - start;
  for (let i = 0; i < kills; i++) {
    const at = start + ((i + 0.5) * span) / kills;
    if (at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
    if (Date.now() > until) return;
    const verbs: InterruptedVerb[] = ['STOR new', 'STOR over', 'APPE', 'REST+STOR'];
    const verb = verbs[Math.floor(rng() * verbs.length)]!;
    const old = verb === 'STOR new' ? undefined : victimFile(i);
    const oldSize = old?.[0]!.length ?? 0;
    const offset = verb === 'REST+STOR' ? Math.floor(rng() * (oldSize + 1)) : 0;
    const body: Segment = { seed: (rng() * 2 ** 31) >>> 0, length: 64 * 1024 + Math.floor(rng() * MAX_FILE) };
    const sent = Math.floor(body.length * (0.2 + rng() * 0.6));
    const tls = rng() < 0.6;
    const prot = tls && rng() < 0.8;
    const path = verb === 'STOR new' ? `k/n${i}.bin` : `k/o${i}.bin`;
    const job = { port, tls, prot, user: 'soak', pass: 'secret', verb: verb === 'APPE' ? 'APPE' : verb === 'REST+STOR' ? 'REST' : 'STOR', offset, path: `/${path}`, body, send: sent };
    stats.interrupted.push({ path, verb, fault: 'process-kill', prot, old, offset, body, sent, reply: undefined });
    count('interrupted upload (process-kill)');
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'scripts/lib/soak-victim.ts'), JSON.stringify(job)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise((r) => child.once('exit', r));
    const ready = await Promise.race([
      new Promise<boolean>((resolve) => {
        const check = () => (out.includes('SENT') ? resolve(true) : setTimeout(check, 10));
        check();
      }),
      exited.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(false), 60_000)),
    ]);
    if (!ready) problem(`client process ${i} did not start its upload: ${out.slice(0, 300)}`);
    else await new Promise((r) => setTimeout(r, 5 + Math.floor(rng() * 30)));
    child.kill('SIGKILL');
    await exited;
  }
}

type Outcome = 'ok' | 'partial' | 'lost' | 'limit';

/** Whether `a` starts with `b`. */
function startsWith(a: Buffer, b: Buffer): boolean {
  return a.length >= b.length && a.subarray(0, b.length).equals(b);
}

/** What an interrupted upload left on disk, against what the table of upload outcomes allows. */
function judge(rec: Interrupted, got: Buffer | undefined): { outcome: Outcome; why: string } {
  const old = rec.old ? contentOf(rec.old) : undefined;
  const sent = segmentBytes(rec.body).subarray(0, rec.sent);
  let ok: boolean;
  let why: string;
  if (rec.verb === 'STOR new') {
    ok = got === undefined;
    why = `a new file; ${got?.length ?? 0} bytes of it under its final name`;
  } else if (got === undefined) {
    return { outcome: 'lost', why: 'the file it wrote over is gone' };
  } else if (rec.verb === 'STOR over') {
    ok = got.equals(old!);
    why = `an overwrite; ${got.length} bytes on disk, the old content had ${old!.length}`;
  } else if (rec.verb === 'APPE') {
    ok = startsWith(got, old!) && startsWith(sent, got.subarray(old!.length));
    why = `APPE: ${got.length} bytes on disk (old ${old!.length}, sent ${rec.sent}), not the old content and a prefix of what was sent`;
  } else {
    // REST+STOR at offset o: the old first o bytes, a prefix of what was sent, then nothing or the old rest.
    const o = rec.offset;
    const tail = got.subarray(o);
    const oldTail = old!.subarray(o);
    let m = 0; // tail and what was sent agree on their first m bytes
    while (m < tail.length && m < sent.length && tail[m] === sent[m]) m++;
    // Either cut after what arrived (the tail is a prefix of what was sent), or the old rest kept after it.
    let oldRest = false;
    if (tail.length === oldTail.length) {
      let j = tail.length;
      while (j > 0 && tail[j - 1] === oldTail[j - 1]) j--;
      oldRest = j <= m;
    }
    ok = startsWith(got, old!.subarray(0, o)) && (m === tail.length || oldRest);
    why = `REST ${o} + STOR: ${got.length} bytes on disk (old ${old!.length}, sent ${rec.sent}), not the old first ${o} bytes + a prefix of what was sent (+ the old rest)`;
  }
  if (ok) return { outcome: 'ok', why: '' };
  // Stream mode without TLS: a killed client's FIN reads as the end of the file (the documented limit).
  if (!rec.prot && (rec.fault === 'kill' || rec.fault === 'process-kill')) return { outcome: 'limit', why };
  return { outcome: 'partial', why };
}

/** Every upload temp file under `root` (the soak may walk the tree; the server never does). */
function tempFilesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name.startsWith('.ftpsd-upload-')) out.push(join(d, e.name));
    }
  };
  walk(root);
  return out;
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
  await mkdir(join(root, 'k'));
  for (let i = 0; i < PROCESS_KILLS; i++) await writeFile(join(root, 'k', `o${i}.bin`), contentOf(victimFile(i)));
  await writeFile(
    join(dir, 'ftpsd.yaml'),
    [
      'timeouts:', '  dataConnectMs: 60000', '  handshakeMs: 60000', '  stalledTransferMs: 120000',
      'limits:', '  loginFailureDelayMs: 10', '  maxSessions: 100000', '  maxSessionsPerAddress: 100000', '  maxSessionsPerUser: 100000',
      'security:', '  ban: off',
      // The soak mixes clear (PROT C) and protected data on TLS sessions on purpose, to fault both.
      'dataProtection: optional', '',
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
  await Promise.all([
    ...clients.map(async (c, i) => {
      await new Promise((r) => setTimeout(r, Math.floor((i / CLIENTS) * 5000)));
      await c.run(until);
    }),
    processKills(PROCESS_KILLS, ports.explicit, until, mulberry32((master() * 2 ** 31) >>> 0)),
  ]);
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

  // Every interrupted upload left what the table of upload outcomes allows.
  const outcomes = new Map<string, Map<Outcome | 'answered 226', number>>();
  const tally = (key: string, o: Outcome | 'answered 226') => {
    const m = outcomes.get(key) ?? new Map<Outcome | 'answered 226', number>();
    m.set(o, (m.get(o) ?? 0) + 1);
    outcomes.set(key, m);
  };
  let partial = 0;
  let lostInterrupted = 0;
  let limits = 0;
  let answered226 = 0;
  for (const rec of stats.interrupted) {
    const got = await readFile(join(root, rec.path)).catch(() => undefined);
    const { outcome, why } = judge(rec, got);
    for (const key of [rec.fault, rec.verb, `PROT ${rec.prot ? 'P' : 'C'}`]) {
      tally(key, outcome);
      if (rec.reply === 226) tally(key, 'answered 226');
    }
    const what = `${rec.path} (${rec.verb}, ${rec.fault}, PROT ${rec.prot ? 'P' : 'C'})`;
    if (outcome === 'partial') {
      partial++;
      problem(`partial file under a final name: ${what}: ${why}`);
    } else if (outcome === 'lost') {
      lostInterrupted++;
      problem(`file lost by an interrupted upload: ${what}: ${why}`);
    } else if (outcome === 'limit') limits++;
    if (rec.reply === 226) {
      answered226++;
      problem(`interrupted upload answered 226: ${what}`);
    }
  }
  const leftovers = alive ? tempFilesUnder(root) : [];
  for (const t of leftovers.slice(0, 5)) problem(`upload temp file left behind: ${t.slice(root.length + 1)}`);

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
  console.log(`uploads checked: ${checked} files on disk (${entries} client dirs), lost or corrupted ${lost}`);
  const show = (m: Map<Outcome | 'answered 226', number> | undefined) =>
    (['ok', 'partial', 'lost', 'limit', 'answered 226'] as const).filter((o) => m?.get(o)).map((o) => `${o} ${m!.get(o)}`).join(', ') || '-';
  console.log(`interrupted:     ${stats.interrupted.length} uploads; partial under a final name ${partial}, lost ${lostInterrupted}, answered 226 ${answered226}, PROT C limit ${limits}`);
  for (const key of ['kill', 'process-kill', 'reset', 'no-close-notify', 'cut-control', 'STOR new', 'STOR over', 'APPE', 'REST+STOR', 'PROT C', 'PROT P']) {
    console.log(`  ${key.padEnd(16)} ${show(outcomes.get(key))}`);
  }
  console.log(`temp files left: ${leftovers.length}`);

  const failures: string[] = [];
  if (!alive || server.crash) failures.push(`server died: ${server.crash ?? JSON.stringify(server.exit)}`);
  if (stopped?.code !== 0) failures.push(`server did not exit cleanly on SIGTERM: ${JSON.stringify(stopped)}`);
  if (startFds !== undefined && endFds !== undefined && endFds > startFds) failures.push(`${endFds - startFds} file descriptors leaked`);
  if (lost > 0) failures.push(`${lost} uploads lost or changed`);
  if (partial > 0) failures.push(`${partial} interrupted uploads left a partial file under a final name`);
  if (lostInterrupted > 0) failures.push(`${lostInterrupted} files lost by interrupted uploads`);
  if (answered226 > 0) failures.push(`${answered226} interrupted uploads answered 226`);
  if (leftovers.length > 0) failures.push(`${leftovers.length} upload temp files left behind`);
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
