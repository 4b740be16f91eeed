/**
 * How an upload ends when its client dies or a connection is cut (issue 20; the table of upload outcomes
 * in docs/uploads.md), with raw sockets and killed client processes against a real server:
 *
 * - the control connection ends mid-upload: the upload is aborted at once, even if the data connection
 *   then ends cleanly;
 * - PROT P: only a close_notify completes an upload (a TCP FIN alone gets 426, unless
 *   `uploads.requireCloseNotify: false`);
 * - a reset (RST) never completes an upload, PROT C or P, also when Node reports it as a clean end;
 * - PROT C: a FIN is the end of the file (RFC 959 stream mode), so a cut there is a complete upload;
 * - a client process killed with SIGKILL mid-STOR: aborted, PROT C and P, new files and overwrites;
 * - APPE and REST + STOR keep the bytes written before a failure (what a client resumes from).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserAuthenticator, type UserAccount } from '../../src/auth/users.js';
import type { TransferEndEvent } from '../../src/events.js';
import { TEMP_PREFIX } from '../../src/storage/local.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';

import { ownedTls, type OwnedTls } from './tls-helpers.js';
import { until } from './transfer-helpers.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';

const ENDLESS = fileURLToPath(new URL('./endless-upload.mjs', import.meta.url));
const ORIGINAL = Buffer.alloc(300_000, 0x41); // 'A'
const SENT = Buffer.alloc(2_000_000, 0x42); // 'B'

type Prot = 'C' | 'P';

let root: string;
let t: TestServer | undefined;
let log: CapturedLog;
const clients: RawClient[] = [];
const children: ChildProcess[] = [];

async function serve(options: { requireCloseNotify?: boolean; partial?: 'keep' | 'delete' } = {}): Promise<TestServer> {
  log = captureLog();
  const account: UserAccount = { name: USER, password: { plain: PASS }, home: root };
  t = await startServer({
    logger: log.logger,
    ...(options.requireCloseNotify === undefined ? {} : { uploads: { requireCloseNotify: options.requireCloseNotify } }),
    authenticator: new UserAuthenticator([account], undefined, { uploads: options.partial ? { partial: options.partial } : {} }),
  });
  return t;
}

beforeEach(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'ftpsd-upload-ends-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const p of children.splice(0)) p.kill('SIGKILL');
  await t?.close();
  t = undefined;
  await fs.rm(root, { recursive: true, force: true });
});

async function login(prot: Prot): Promise<RawClient> {
  const c = await RawClient.connect(t!.port);
  clients.push(c);
  if (prot === 'P') await c.auth();
  await c.login(USER, PASS);
  if (prot === 'P') {
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT P', 200);
  }
  await c.expectCmd('TYPE I', 200);
  return c;
}

/** An upload's data connection: `out` is what to write; under TLS the client's TLS runs over a stream we own. */
interface Upload {
  raw: Socket;
  tls: OwnedTls | undefined;
  write(data: Buffer): Promise<void>;
  /** Ends the data cleanly: close_notify then FIN (PROT P), or a FIN (PROT C). */
  endCleanly(): void;
  /** A FIN without close_notify. */
  fin(): void;
  /** An RST (SO_LINGER 0). */
  reset(): void;
}

async function startUpload(c: RawClient, command: string, prot: Prot): Promise<Upload> {
  const raw = await c.epsv();
  c.send(command);
  await c.expect(150);
  const tls = prot === 'P' ? await ownedTls(raw, c.session) : undefined;
  const out = tls?.tls ?? raw;
  return {
    raw,
    tls,
    write: (data) => new Promise<void>((resolve) => out.write(data, () => resolve())),
    endCleanly: () => {
      if (tls) tls.tls.end(() => raw.end());
      else raw.end();
    },
    fin: () => raw.end(),
    reset: () => raw.resetAndDestroy(),
  };
}

/** The next `transfer-end` event for `path`. */
function transferEnd(path: string): Promise<TransferEndEvent> {
  return new Promise((resolve) => {
    const on = (e: TransferEndEvent) => {
      if (e.path !== path) return;
      t!.server.events.off('transfer-end', on);
      resolve(e);
    };
    t!.server.events.on('transfer-end', on);
  });
}

/** Bytes the server has received on the upload running in some session. */
function receiving(): number {
  let n = 0;
  for (const conn of t!.server.sessions.values()) n += conn.transferredBytes;
  return n;
}

async function onDisk(name: string): Promise<Buffer | undefined> {
  return fs.readFile(join(root, name)).catch(() => undefined);
}

async function temps(): Promise<string[]> {
  return (await fs.readdir(root)).filter((n) => n.startsWith(TEMP_PREFIX));
}

/** A failed upload left the old file as it was, or no file for a new one, and no temp file. */
async function expectUnchanged(name: string, existed: boolean): Promise<void> {
  const content = await onDisk(name);
  if (existed) expect(content?.equals(ORIGINAL), `${name} keeps its old content`).toBe(true);
  else expect(content, `${name} was not created`).toBeUndefined();
  await until(async () => (await temps()).length === 0, 'temp files removed');
}

async function prepare(name: string, existing: boolean): Promise<void> {
  if (existing) await fs.writeFile(join(root, name), ORIGINAL);
}

const TARGETS = [
  { existing: false, label: 'a new file' },
  { existing: true, label: 'over an existing file' },
] as const;

describe('the control connection ends mid-upload: the upload is aborted at once (item 1)', () => {
  for (const prot of ['C', 'P'] as const) {
    for (const how of ['closed', 'reset'] as const) {
      it(`PROT ${prot}: control connection ${how}, then the data connection ends cleanly: 426, nothing committed`, async () => {
        await serve();
        for (const { existing } of TARGETS) {
          const name = `ctl-${prot}-${how}-${existing}.bin`;
          await prepare(name, existing);
          const c = await login(prot);
          const up = await startUpload(c, `STOR ${name}`, prot);
          const ended = transferEnd(`/${name}`);
          await up.write(SENT.subarray(0, 500_000));
          await until(() => receiving() > 0, 'bytes arriving');
          if (how === 'reset') c.raw.resetAndDestroy();
          else c.close();
          // The client's data connection goes on and ends as a complete upload would.
          await up.write(SENT.subarray(500_000, 600_000));
          up.endCleanly();
          expect((await ended).code).toBe(426);
          await expectUnchanged(name, existing);
          up.raw.destroy();
        }
      });
    }
  }

  it('QUIT is not an end of the connection: it waits for the upload, which completes (226, then 221)', async () => {
    await serve();
    const c = await login('P');
    const up = await startUpload(c, 'STOR quit.bin', 'P');
    await up.write(SENT.subarray(0, 100_000));
    c.send('QUIT');
    up.endCleanly();
    await c.expect(226);
    await c.expect(221);
    expect((await onDisk('quit.bin'))?.length).toBe(100_000);
  });
});

describe('PROT P: an upload is complete only with close_notify (item 2)', () => {
  it('close_notify then FIN: 226, committed (new file and overwrite)', async () => {
    await serve();
    for (const { existing } of TARGETS) {
      const name = `notify-${existing}.bin`;
      await prepare(name, existing);
      const c = await login('P');
      const up = await startUpload(c, `STOR ${name}`, 'P');
      await up.write(SENT);
      up.endCleanly();
      await c.expect(226);
      expect((await onDisk(name))?.equals(SENT)).toBe(true);
    }
  });

  it('a TCP FIN without close_notify: 426, aborted, and a warning that names uploads.requireCloseNotify', async () => {
    await serve();
    for (const { existing } of TARGETS) {
      const name = `no-notify-${existing}.bin`;
      await prepare(name, existing);
      const c = await login('P');
      const up = await startUpload(c, `STOR ${name}`, 'P');
      await up.write(SENT); // every byte sent, then the TCP connection closed without TLS's own end
      up.fin();
      await c.expect(426, /^426 Data connection closed without TLS close_notify; transfer aborted\.$/);
      await expectUnchanged(name, existing);
      await c.expectCmd('NOOP', 200); // the session goes on
    }
    const warnings = log.lines().filter((l) => l.level === 40 && l.setting === 'uploads.requireCloseNotify');
    expect(warnings).toHaveLength(2);
    expect(String(warnings[0]!.msg)).toMatch(/without TLS close_notify; uploads\.requireCloseNotify: false accepts/);
    const failed = log.lines().filter((l) => l.msg === 'transfer failed');
    expect(failed.map((l) => l.cut)).toEqual(['no-close-notify', 'no-close-notify']);
  });

  it('uploads.requireCloseNotify: false: a FIN alone completes the upload (226); a reset still does not', async () => {
    await serve({ requireCloseNotify: false });
    const c = await login('P');
    const up = await startUpload(c, 'STOR relaxed.bin', 'P');
    await up.write(SENT);
    up.fin();
    await c.expect(226);
    expect((await onDisk('relaxed.bin'))?.equals(SENT)).toBe(true);
    const up2 = await startUpload(c, 'STOR relaxed-rst.bin', 'P');
    await up2.write(SENT);
    up2.reset();
    await c.expect(426, /^426 Data connection reset; transfer aborted\.$/);
    await expectUnchanged('relaxed-rst.bin', false);
  });
});

describe('a reset data connection never completes an upload (item 3)', () => {
  // Sent, then reset at once: Node often reports such a reset as a clean end to a reader that keeps up
  // (data-end.ts); repeated so that both ways of reporting it occur.
  for (const prot of ['C', 'P'] as const) {
    it(`PROT ${prot}: RST right after the data: 426, aborted (new file and overwrite, 5 times each)`, async () => {
      await serve();
      const c = await login(prot);
      for (let i = 0; i < 5; i++) {
        for (const { existing } of TARGETS) {
          const name = `rst-${prot}-${i}-${existing}.bin`;
          await prepare(name, existing);
          const up = await startUpload(c, `STOR ${name}`, prot);
          await up.write(SENT);
          up.reset();
          await c.expect(426, /^426 Data connection reset; transfer aborted\.$/);
          await expectUnchanged(name, existing);
        }
      }
      const failed = log.lines().filter((l) => l.msg === 'transfer failed');
      expect(failed.every((l) => l.cut === 'reset')).toBe(true);
    });
  }

  it('PROT C: a FIN half-way is the end of the file (RFC 959 stream mode cannot tell): 226, the partial file is committed', async () => {
    await serve();
    await prepare('half.bin', true);
    const c = await login('C');
    const up = await startUpload(c, 'STOR half.bin', 'C');
    await up.write(SENT.subarray(0, 700_000));
    up.fin();
    await c.expect(226);
    expect((await onDisk('half.bin'))?.length).toBe(700_000);
  });
});

describe('a client process killed with SIGKILL mid-STOR (item 2, item 1)', () => {
  for (const prot of ['C', 'P'] as const) {
    it(`PROT ${prot}: aborted (426), nothing committed, new file and overwrite`, async () => {
      await serve();
      for (const { existing } of TARGETS) {
        const name = `killed-${prot}-${existing}.bin`;
        await prepare(name, existing);
        const ended = transferEnd(`/${name}`);
        const child = spawn(process.execPath, [ENDLESS, String(t!.port), USER, PASS, prot, `STOR ${name}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        await until(() => receiving() > 256 * 1024 || child.exitCode !== null, 'the upload running');
        expect(child.exitCode, stderr).toBeNull();
        child.kill('SIGKILL');
        const e = await ended;
        expect(e.code).toBe(426);
        expect(e.ok).toBe(false);
        await expectUnchanged(name, existing);
      }
    });
  }
});

describe('APPE and REST + STOR keep the bytes written before a failure (item 4)', () => {
  /**
   * The file after a failed in-place upload of 'B's at `offset` into ORIGINAL ('A's): the old bytes before
   * the offset, then some of the sent bytes (what reached the disk), then the old bytes after them; never
   * shorter than before.
   */
  async function expectKeptInPlace(name: string, offset: number): Promise<number> {
    const after = (await onDisk(name))!;
    let k = 0;
    while (offset + k < after.length && after[offset + k] === 0x42) k++;
    expect(after.subarray(0, offset).equals(ORIGINAL.subarray(0, offset)), 'bytes before the offset').toBe(true);
    expect(after.length).toBe(Math.max(ORIGINAL.length, offset + k));
    expect(after.subarray(offset + k).equals(ORIGINAL.subarray(offset + k)), 'old bytes after the written ones').toBe(true);
    expect(k).toBeLessThanOrEqual(SENT.length);
    await until(async () => (await temps()).length === 0, 'no temp files');
    return k;
  }

  const endings = [
    { label: 'ABOR', prot: 'C' as Prot },
    { label: 'RST', prot: 'C' as Prot },
    { label: 'control connection closed', prot: 'C' as Prot },
    { label: 'FIN without close_notify', prot: 'P' as Prot },
  ];
  for (const command of ['APPE', 'REST'] as const) {
    for (const { label, prot } of endings) {
      it(`${command === 'REST' ? 'REST + STOR in the middle of a file' : 'APPE'}, PROT ${prot}, ${label}: 426, the bytes written stay in place`, async () => {
        await serve();
        const name = `${command}-${label.replace(/\W+/g, '-')}.bin`;
        await prepare(name, true);
        const offset = command === 'APPE' ? ORIGINAL.length : 100_000;
        const c = await login(prot);
        if (command === 'REST') await c.expectCmd(`REST ${offset}`, 350);
        const ended = transferEnd(`/${name}`);
        const up = await startUpload(c, `${command === 'REST' ? 'STOR' : 'APPE'} ${name}`, prot);
        void up.write(SENT.subarray(0, 1_000_000));
        // Wait until some of it is on disk, so there is something to keep.
        await until(async () => (await onDisk(name))?.[offset] === 0x42, 'bytes written in place');
        if (label === 'ABOR') {
          c.send('ABOR');
          await c.expect(426);
          await c.expect(226);
          up.raw.destroy();
        } else if (label === 'RST') up.reset();
        else if (label === 'control connection closed') c.close();
        else {
          await up.write(SENT.subarray(1_000_000, 1_000_001));
          up.fin();
        }
        expect((await ended).code).toBe(426);
        expect(await expectKeptInPlace(name, offset)).toBeGreaterThan(0);
      });
    }
  }

  it('resuming: a cut STOR kept with uploads.partial: keep, then REST SIZE + STOR, cut again and resumed, gives the whole file', async () => {
    await serve({ partial: 'keep' });
    const source = Buffer.from(Array.from({ length: 1_500_000 }, (_, i) => (i * 7) & 0xff));
    const c = await login('P');
    const up = await startUpload(c, 'STOR resumed.bin', 'P');
    await up.write(source.subarray(0, 600_000));
    await until(async () => (await fs.readdir(root)).some((n) => n.startsWith(TEMP_PREFIX)), 'the upload running');
    up.reset();
    await c.expect(426);
    for (let round = 0; ; round++) {
      const size = Number((await c.expectCmd('SIZE resumed.bin', 213)).text.slice(4));
      expect(source.subarray(0, size).equals((await onDisk('resumed.bin'))!), 'what is kept is a prefix of the file').toBe(true);
      await c.expectCmd(`REST ${size}`, 350);
      const next = await startUpload(c, 'STOR resumed.bin', 'P');
      if (round === 0) {
        // Cut again half-way: the bytes written are kept, the size grows.
        await next.write(source.subarray(size, size + 400_000));
        await until(async () => ((await onDisk('resumed.bin'))?.length ?? 0) > size, 'bytes written');
        next.fin(); // no close_notify
        await c.expect(426);
        continue;
      }
      await next.write(source.subarray(size));
      next.endCleanly();
      await c.expect(226);
      break;
    }
    expect((await onDisk('resumed.bin'))?.equals(source)).toBe(true);
  });

  it('a cut STOR of a new file with the default uploads.partial (delete) leaves nothing to resume', async () => {
    await serve();
    const c = await login('C');
    const up = await startUpload(c, 'STOR gone.bin', 'C');
    await up.write(SENT.subarray(0, 600_000));
    up.reset();
    await c.expect(426);
    await expectUnchanged('gone.bin', false);
    await c.expectCmd('SIZE gone.bin', 550);
  });
});
