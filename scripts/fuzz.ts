/**
 * `npm run fuzz`: the long fuzzing run.
 *
 * 1. The property tests of test/unit (line reader, command parser, PORT/EPRT/EPSV parsers, path
 *    normaliser, ClientHello reader, ...) with a random seed and many more runs than `vitest` uses.
 * 2. A protocol fuzzer against a live ftpsd (a child process on loopback): random command lines with
 *    random bytes, written in random pieces, random data connections, random disconnects (RST and FIN).
 *    It checks that the server never crashes, that every byte it sends is a well-formed reply, and that
 *    every session it does not close on purpose (221, 421, after 234) still answers a final NOOP.
 *
 * Options: --seed N (replay), --scale N (property runs multiplier, default 20), --duration S (protocol
 * fuzzing seconds, default 60), --concurrency N (default 16), --skip-properties, --skip-protocol.
 * Exit code 0 when nothing was found. The seed is printed first: rerun with it to replay the properties
 * (the protocol part depends on timing, but its sessions draw from the same seed).
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { parseArgs } from 'node:util';
import { ChildServer, REPO, removeTempDirs, tempDir } from '../test/hardening/child-server.js';
import { ReplyReader } from './lib/replies.js';
import { mulberry32, type Rng } from './lib/rng.js';

const { values: opts } = parseArgs({
  options: {
    seed: { type: 'string' },
    scale: { type: 'string', default: '20' },
    duration: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '16' },
    'skip-properties': { type: 'boolean', default: false },
    'skip-protocol': { type: 'boolean', default: false },
  },
});

const seed = opts.seed !== undefined ? Number(opts.seed) : randomInt(1, 2 ** 31 - 1);
console.log(`fuzz seed: ${seed}   (replay: npm run fuzz -- --seed ${seed})`);
let failed = false;

// --- 1. properties ----------------------------------------------------------------------------------

if (!opts['skip-properties']) {
  console.log(`\n== property tests: test/unit, seed ${seed}, runs x${opts.scale}`);
  const run = spawnSync('npx', ['vitest', 'run', 'test/unit', '--testTimeout=900000', '--reporter=dot'], {
    cwd: REPO,
    stdio: 'inherit',
    env: { ...process.env, FTPSD_FUZZ_SEED: String(seed), FTPSD_FUZZ_SCALE: String(opts.scale) },
  });
  if (run.status !== 0) {
    failed = true;
    console.log(`property tests FAILED (replay: FTPSD_FUZZ_SEED=${seed} FTPSD_FUZZ_SCALE=${opts.scale} npx vitest run test/unit)`);
  }
}

// --- 2. protocol ------------------------------------------------------------------------------------

const VERBS = [
  'USER', 'PASS', 'ACCT', 'CWD', 'CDUP', 'XCUP', 'SMNT', 'REIN', 'QUIT', 'PORT', 'PASV', 'EPRT', 'EPSV', 'LPRT', 'LPSV',
  'TYPE', 'STRU', 'MODE', 'RETR', 'STOR', 'STOU', 'APPE', 'ALLO', 'REST', 'RNFR', 'RNTO', 'ABOR', 'DELE', 'RMD', 'XRMD',
  'MKD', 'XMKD', 'PWD', 'XPWD', 'LIST', 'NLST', 'SITE', 'SYST', 'STAT', 'HELP', 'NOOP', 'FEAT', 'OPTS', 'AUTH', 'PBSZ',
  'PROT', 'CCC', 'ADAT', 'MIC', 'CONF', 'ENC', 'LANG', 'MDTM', 'MFMT', 'SIZE', 'MLST', 'MLSD', 'HASH', 'RANG', 'CLNT',
  'HOST', 'XCRC', 'XMD5', 'XSHA1', 'MFF', 'AVBL', 'DSIZ',
];

interface Stats {
  sessions: number;
  lines: number;
  replies: number;
  bytesOut: number;
  dataConnections: number;
  cuts: number;
  failures: string[];
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rng() * 256);
  return b;
}

/** A path-like argument: names, dots, slashes, spaces, quotes, UTF-8, globs, very long segments. */
function pathArg(rng: Rng): string {
  const parts = ['', '.', '..', 'a', 'dir', 'file.txt', 'x y', '"q"', '日本', 'é', '*', '?', '-la', '~', '%00', 'a'.repeat(300), 'f'.repeat(20)];
  const n = 1 + Math.floor(rng() * 4);
  const segs = Array.from({ length: n }, () => pick(rng, parts));
  return (rng() < 0.3 ? '/' : '') + segs.join(pick(rng, ['/', '/', '//', '\\']));
}

const NO_ARG = new Set(['PASV', 'EPSV', 'CDUP', 'XCUP', 'PWD', 'XPWD', 'QUIT', 'NOOP', 'FEAT', 'SYST', 'ABOR', 'REIN', 'CCC', 'LIST', 'NLST', 'MLSD', 'STAT', 'HELP']);

function argFor(rng: Rng, verb: string): string {
  const r = rng();
  if (r < 0.1 || (NO_ARG.has(verb) && r < 0.7)) return '';
  if (r < 0.2) return randomBytes(rng, Math.floor(rng() * 40)).toString('latin1');
  switch (verb) {
    case 'PORT':
      return Array.from({ length: Math.floor(rng() * 8) }, () => String(Math.floor(rng() * 300) - 10)).join(',');
    case 'EPRT':
      return pick(rng, ['|1|127.0.0.1|', '|2|::1|', '|1|10.0.0.1|', '!1!127.0.0.1!', '|3|x|']) + String(Math.floor(rng() * 70000)) + pick(rng, ['|', '', '||']);
    case 'EPSV':
      return pick(rng, ['', '1', '2', 'ALL', 'all', '3', 'x']);
    case 'TYPE':
      return pick(rng, ['A', 'I', 'E', 'L 8', 'A N', 'a', 'X']);
    case 'REST':
    case 'ALLO':
    case 'PBSZ':
      return pick(rng, ['0', '1', '100', '-1', '99999999999999999999', '1e3', String(Math.floor(rng() * 1e7))]);
    case 'RANG':
      return `${Math.floor(rng() * 5000)} ${Math.floor(rng() * 5000)}`;
    case 'PROT':
      return pick(rng, ['C', 'P', 'S', 'E', 'X']);
    case 'AUTH':
      return pick(rng, ['TLS', 'SSL', 'GSSAPI', 'tls', 'TLS-C', 'x']);
    case 'OPTS':
      return pick(rng, ['UTF8 ON', 'UTF8 OFF', 'MLST type;size;', 'HASH SHA-256', 'x y z']);
    case 'SITE':
      return pick(rng, ['HELP', 'CHMOD 755 a', 'CHMOD 999 b', 'UMASK 022', 'IDLE 10', 'x']) + (rng() < 0.3 ? ' ' + pathArg(rng) : '');
    case 'MFMT':
      return `${pick(rng, ['20200101000000', '2020', '99999999999999', '20201301010101'])} ${pathArg(rng)}`;
    case 'HASH':
    case 'XCRC':
    case 'XMD5':
    case 'XSHA1':
      return pathArg(rng);
    default:
      return pathArg(rng);
  }
}

/** One command line, usually well-formed, sometimes broken on purpose. */
function commandLine(rng: Rng): Buffer {
  const r = rng();
  let verb = r < 0.85 ? pick(rng, VERBS) : r < 0.95 ? randomBytes(rng, 1 + Math.floor(rng() * 6)).toString('latin1') : 'X'.repeat(1 + Math.floor(rng() * 40));
  if (rng() < 0.2) verb = verb.toLowerCase();
  const arg = argFor(rng, verb.toUpperCase());
  let line = Buffer.from(arg === '' ? verb : `${verb}${pick(rng, [' ', ' ', ' ', '  ', '\t'])}${arg}`, rng() < 0.1 ? 'latin1' : 'utf8');
  const t = rng();
  if (t < 0.04) line = Buffer.concat([line, Buffer.alloc(9000 + Math.floor(rng() * 5000), 0x41)]); // over the limit
  else if (t < 0.08) line = Buffer.concat([Buffer.from([0xff, pick(rng, [0xf4, 0xf2, 0xfb, 0xfd, 0xff, 0x41])]), line]); // Telnet
  else if (t < 0.1) line = Buffer.concat([line, Buffer.from([0, 0xff, 0xfe, 0xc3])]);
  const end = pick(rng, ['\r\n', '\r\n', '\r\n', '\r\n', '\n', '\r', '\r\0', '']);
  return Buffer.concat([line, Buffer.from(end, 'latin1')]);
}

/** Writes `data` in random pieces with tiny pauses (split-packet fuzzing on the wire). */
async function writeSplit(rng: Rng, socket: Socket | TLSSocket, data: Buffer): Promise<void> {
  let at = 0;
  while (at < data.length && !socket.destroyed) {
    const n = rng() < 0.5 ? data.length - at : 1 + Math.floor(rng() * Math.max(1, data.length - at));
    socket.write(data.subarray(at, at + n));
    at += n;
    if (rng() < 0.3) await new Promise((r) => setTimeout(r, Math.floor(rng() * 3)));
  }
}

interface Session {
  socket: Socket | TLSSocket;
  raw: Socket;
  reader: ReplyReader;
  closedByServer: boolean;
  ended: boolean;
}

function attach(s: Session, socket: Socket | TLSSocket): void {
  socket.on('data', (d: Buffer) => s.reader.push(d));
  socket.on('error', () => {});
  socket.on('close', () => {
    if (!s.ended) s.closedByServer = true;
    s.reader.push(Buffer.alloc(0));
  });
}

async function waitReply(s: Session, count: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (s.reader.replies.length < count) {
    if (s.closedByServer || Date.now() > deadline) return false;
    await s.reader.changed(Math.max(1, deadline - Date.now()));
  }
  return true;
}

/** Starts TLS over the session's TCP socket (implicit FTPS, or after AUTH TLS's 234). */
async function startTls(s: Session): Promise<void> {
  const tls = tlsConnect({ socket: s.raw, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', reject);
  });
  s.socket = tls;
  attach(s, tls);
}

async function openSession(rng: Rng, port: number, implicitPort: number): Promise<Session | string> {
  const mode = rng();
  const raw = netConnect({ port: mode < 0.15 ? implicitPort : port, host: '127.0.0.1' });
  raw.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('error', reject);
  });
  const s: Session = { socket: raw, raw, reader: new ReplyReader(), closedByServer: false, ended: false };
  if (mode < 0.15) {
    await startTls(s);
  } else {
    attach(s, raw);
  }
  if (!(await waitReply(s, 1, 10_000))) return 'no greeting';
  if (mode >= 0.15 && mode < 0.4) {
    s.socket.write('AUTH TLS\r\n');
    if (!(await waitReply(s, 2, 10_000)) || s.reader.replies[1]!.code !== 234) return 'AUTH TLS not answered with 234';
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    await startTls(s);
  }
  return s;
}

/** What to do with a data port the server offered: nothing, drain it, send junk, or cut it. */
function useDataPort(rng: Rng, text: string, stats: Stats): void {
  const m = /\|\|\|(\d+)\|/.exec(text) ?? /\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(text);
  if (!m) return;
  const port = m.length === 2 ? Number(m[1]) : Number(m[5]) * 256 + Number(m[6]);
  const r = rng();
  if (r < 0.25) return;
  stats.dataConnections++;
  const d = netConnect({ port, host: '127.0.0.1' });
  d.on('error', () => {});
  d.on('data', () => {});
  d.once('connect', () => {
    if (r < 0.5) return; // drain whatever comes
    if (r < 0.75) d.end(randomBytes(rng, Math.floor(rng() * 5000)));
    else if (r < 0.9) setTimeout(() => d.resetAndDestroy(), Math.floor(rng() * 30));
    else d.end(Buffer.from([22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3])); // a TLS record cut short
  });
  setTimeout(() => d.destroy(), 5000).unref();
}

async function fuzzSession(sessionSeed: number, port: number, implicitPort: number, stats: Stats): Promise<void> {
  const rng = mulberry32(sessionSeed);
  const opened = await openSession(rng, port, implicitPort).catch((err: Error) => `connect failed: ${err.message}`);
  if (typeof opened === 'string') {
    stats.failures.push(`session ${sessionSeed}: ${opened}`);
    return;
  }
  const s = opened;
  stats.sessions++;
  const transcript: string[] = [];
  let lastVerb = '';
  const sent = new Set<string>();
  if (rng() < 0.7) {
    const pass = rng() < 0.9 ? 'secret' : 'wrong';
    await writeSplit(rng, s.socket, Buffer.from(`USER alice\r\nPASS ${pass}\r\nTYPE I\r\n`));
    transcript.push('USER alice', `PASS ${pass}`, 'TYPE I');
    stats.lines += 3;
  }
  const steps = 3 + Math.floor(rng() * 30);
  let cutAt = rng() < 0.15 ? Math.floor(rng() * steps) : -1;
  for (let i = 0; i < steps && !s.closedByServer; i++) {
    if (i === cutAt) break;
    const line = commandLine(rng);
    // The verb as the server reads it (Telnet IAC sequences before it are dropped).
    lastVerb = (/[A-Za-z][A-Za-z0-9-]*/.exec(line.toString('latin1'))?.[0] ?? '').toUpperCase();
    sent.add(lastVerb);
    transcript.push(JSON.stringify(line.toString('latin1').slice(0, 80)));
    stats.lines++;
    stats.bytesOut += line.length;
    const before = s.reader.replies.length;
    await writeSplit(rng, s.socket, line);
    // Wait a little for an answer, so data ports can be used while they are offered.
    const passive = /^(PASV|EPSV)/.test(lastVerb);
    if (passive || rng() < 0.6) await waitReply(s, before + 1, passive ? 2000 : 300);
    const latest = s.reader.replies.at(-1);
    if (latest && (latest.code === 227 || latest.code === 229) && s.reader.replies.length > before) {
      if (rng() < 0.6) {
        const transfer = pick(rng, ['RETR file.txt', 'LIST', 'NLST dir', 'MLSD', `STOR up-${sessionSeed}.bin`, `APPE up-${sessionSeed}.bin`, 'RETR nonexistent', 'STOU']);
        transcript.push(transfer);
        sent.add(transfer.split(' ')[0]!);
        stats.lines++;
        s.socket.write(`${transfer}\r\n`);
      }
      useDataPort(rng, latest.lines[0]!, stats);
    }
  }
  if (cutAt >= 0 && !s.closedByServer) {
    stats.cuts++;
    s.ended = true;
    if (rng() < 0.5) s.raw.resetAndDestroy();
    else s.socket.end();
    setTimeout(() => s.raw.destroy(), 1000).unref();
  } else if (!s.closedByServer) {
    // Liveness: a CRLF ends any partial line, then NOOP must be answered (after a running transfer).
    const before = s.reader.replies.length;
    s.socket.write('\r\nNOOP\r\n');
    const deadline = Date.now() + 20_000;
    let ok = false;
    while (Date.now() < deadline && !s.closedByServer) {
      if (s.reader.replies.slice(before).some((r) => r.code === 200)) {
        ok = true;
        break;
      }
      await s.reader.changed(200);
    }
    if (!ok && !s.closedByServer) stats.failures.push(`session ${sessionSeed}: no answer to a final NOOP\n    ${transcript.join('\n    ')}`);
    s.ended = true;
    s.socket.end();
    s.raw.destroy();
  }
  if (s.closedByServer) {
    const last = s.reader.replies.at(-1);
    // The server closes on purpose after 221 and 421, and after AUTH (the junk that follows is not a
    // TLS handshake) or CCC (no close_notify exchange follows).
    const deliberate = s.reader.replies.some((r) => r.code === 221 || r.code === 421 || r.code === 234) || ['QUIT', 'AUTH', 'CCC'].some((v) => sent.has(v));
    if (!deliberate) stats.failures.push(`session ${sessionSeed}: closed by the server after ${last ? last.code : 'no reply'} (last sent: ${lastVerb})\n    ${transcript.join('\n    ')}`);
  }
  stats.replies += s.reader.replies.length;
  for (const v of s.reader.violations) stats.failures.push(`session ${sessionSeed}: malformed reply: ${v}`);
}

async function protocolFuzz(): Promise<boolean> {
  const duration = Number(opts.duration) * 1000;
  const concurrency = Number(opts.concurrency);
  console.log(`\n== protocol fuzzing: ${opts.duration} s, ${concurrency} clients at a time, seed ${seed}`);
  const dir = await tempDir('ftpsd-fuzz-');
  const root = join(dir, 'root');
  await mkdir(join(root, 'dir'), { recursive: true });
  await writeFile(join(root, 'file.txt'), 'hello\n'.repeat(1000));
  await writeFile(
    join(dir, 'ftpsd.yaml'),
    ['timeouts:', '  dataConnectMs: 1500', '  handshakeMs: 2000', '  cccMs: 1000', '  stalledTransferMs: 3000', '  loginMs: 30000', 'limits:', '  loginFailureDelayMs: 10', '  maxSessionsPerAddress: 10000', '  maxSessionsPerUser: 10000', 'security:', '  ban: off', ''].join('\n'),
  );
  const server = await ChildServer.start([
    '--config', join(dir, 'ftpsd.yaml'), '--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0',
    '--root', root, '--state-dir', join(dir, 'state'), '--user', 'alice:secret', '--tls-required', 'off', '--log-level', 'warn',
  ]);
  const port = server.port();
  const implicitPort = server.port('implicit');
  const stats: Stats = { sessions: 0, lines: 0, replies: 0, bytesOut: 0, dataConnections: 0, cuts: 0, failures: [] };
  const master = mulberry32(seed);
  const end = Date.now() + duration;
  let nextReport = Date.now() + 10_000;
  const worker = async () => {
    while (Date.now() < end && server.alive) {
      await fuzzSession(Math.floor(master() * 2 ** 31), port, implicitPort, stats);
      if (Date.now() > nextReport) {
        nextReport += 10_000;
        console.log(`  ${stats.sessions} sessions, ${stats.lines} lines, ${stats.replies} replies, ${stats.failures.length} findings`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const alive = server.alive;
  const errors = server.logs().filter((l) => (l.level as number) >= 50);
  const exit = alive ? await Promise.race([server.stop('SIGTERM'), new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]) : server.exit;
  await removeTempDirs();

  console.log(`sessions: ${stats.sessions}, command lines: ${stats.lines}, replies: ${stats.replies}, bytes sent: ${stats.bytesOut}`);
  console.log(`data connections: ${stats.dataConnections}, client disconnects mid-session: ${stats.cuts}`);
  let ok = true;
  if (!alive || server.crash) {
    ok = false;
    console.log(`SERVER CRASHED:\n${server.crash ?? server.stderr.slice(-4000)}`);
  }
  if (!exit || exit.code !== 0) {
    ok = false;
    console.log(`server did not exit cleanly on SIGTERM: ${JSON.stringify(exit)}`);
  }
  if (errors.length > 0) {
    ok = false;
    console.log(`server logged ${errors.length} unexpected errors:`);
    for (const e of errors.slice(0, 10)) console.log(`  ${JSON.stringify(e).slice(0, 600)}`);
  }
  if (stats.failures.length > 0) {
    ok = false;
    console.log(`${stats.failures.length} findings:`);
    for (const f of stats.failures.slice(0, 10)) console.log(`  ${f}`);
  }
  console.log(ok ? 'protocol fuzzing: no findings' : 'protocol fuzzing: FAILED');
  return ok;
}

if (!opts['skip-protocol'] && !(await protocolFuzz())) failed = true;
console.log(`\nfuzz seed ${seed}: ${failed ? 'FAILED' : 'ok'}`);
process.exit(failed ? 1 : 0);
