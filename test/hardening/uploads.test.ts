/**
 * Upload safety over FTP: atomic uploads (`uploads.atomic`), upload temp names refused, an existing file
 * never damaged by a failed, aborted or disconnected upload, the partial-file policy (`uploads.partial`)
 * for new files, disk full as 452 (a fault-injecting Storage wrapper, and a real tmpfs where the test may
 * mount one), and per-user quotas (552, during the transfer, shared by sessions, config file).
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { UserAuthenticator, type UploadPolicy, type UserAccount } from '../../src/auth/users.js';
import { loadConfig } from '../../src/config/load.js';
import { toServerOptions } from '../../src/config/server-options.js';
import { silentLogger } from '../../src/logger.js';
import { FtpServer } from '../../src/server.js';
import { LocalStorage, TEMP_PREFIX } from '../../src/storage/local.js';
import type { QuotaLimits } from '../../src/storage/quota.js';
import { ForwardingStorage } from '../../src/storage/forwarding.js';
import type { Storage, Upload, WriteOptions } from '../../src/storage/storage.js';
import type { VirtualPath } from '../../src/storage/virtual-path.js';
import { loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { startUpload, tryUpload, until } from './transfer-helpers.js';

const ORIGINAL = Buffer.from('the original content, which must survive every failed upload\n'.repeat(100));

let root: string;
let t: TestServer | undefined;
const clients: RawClient[] = [];

async function serve(options: { uploads?: UploadPolicy; quota?: QuotaLimits; home?: string | Storage } = {}): Promise<TestServer> {
  const account: UserAccount = { name: USER, password: { plain: PASS }, home: options.home ?? root, ...(options.quota ? { quota: options.quota } : {}) };
  t = await startServer({ authenticator: new UserAuthenticator([account], undefined, { uploads: options.uploads ?? {} }) });
  return t;
}

async function client(): Promise<RawClient> {
  const c = await loggedIn(t!, { binary: true });
  clients.push(c);
  return c;
}

async function temps(dir = root): Promise<string[]> {
  return (await fs.readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
}

async function exists(path: string): Promise<boolean> {
  return fs.stat(path).then(
    () => true,
    () => false,
  );
}

async function sizeOf(path: string): Promise<number> {
  return fs.stat(path).then(
    (st) => st.size,
    () => -1,
  );
}

/** Resolves when the session of `c` has ended on the server (its transfer included). */
function sessionEnd(server: TestServer): Promise<void> {
  return new Promise((resolve) => server.server.events.once('disconnect', () => resolve()));
}

beforeEach(async () => {
  root = await fs.mkdtemp(join(tmpdir(), 'ftpsd-uploads-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await t?.close();
  t = undefined;
  await fs.rm(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------

/** A Storage wrapper whose uploads fail with ENOSPC after `limit` bytes reached the backend. */
class DiskFullStorage extends ForwardingStorage {
  constructor(
    inner: Storage,
    private readonly limit: number,
  ) {
    super(inner);
  }
  override async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
    const inner = await this.inner.write(path, options);
    let written = 0;
    const limit = this.limit;
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const room = limit - written;
        const part = chunk.subarray(0, Math.max(0, room));
        written += part.length;
        const full = part.length < chunk.length;
        const enospc = () => cb(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }));
        if (part.length === 0) return enospc();
        inner.stream.write(part, (err) => (err ? cb(err) : full ? enospc() : cb()));
      },
      final(cb) {
        inner.stream.end(() => cb());
      },
    });
    return {
      stream,
      commit: () => inner.commit(),
      abort: async () => {
        stream.destroy();
        await inner.abort();
      },
    };
  }
}

describe('atomic uploads (uploads.atomic)', () => {
  it('default: a new file appears only when complete; meanwhile a hidden temp file holds the data', async () => {
    await serve();
    const c = await client();
    const data = await startUpload(c, 'STOR new.bin', Buffer.alloc(30_000, 1));
    await until(async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === 30_000, 'data in the temp file');
    expect(await exists(join(root, 'new.bin'))).toBe(false);
    data.end(Buffer.alloc(10_000, 2));
    await c.expect(226);
    expect(await sizeOf(join(root, 'new.bin'))).toBe(40_000);
    expect(await temps()).toEqual([]);
  });

  it('atomic: false writes a new file in place under its final name', async () => {
    await serve({ uploads: { atomic: false } });
    const c = await client();
    const data = await startUpload(c, 'STOR new.bin', Buffer.alloc(30_000, 1));
    await until(async () => (await sizeOf(join(root, 'new.bin'))) === 30_000, 'data under the final name');
    expect(await temps()).toEqual([]);
    data.end(Buffer.alloc(10_000, 2));
    await c.expect(226);
    expect(await sizeOf(join(root, 'new.bin'))).toBe(40_000);
  });

  it('atomic: false still replaces an existing file through a temp file', async () => {
    await fs.writeFile(join(root, 'existing.bin'), ORIGINAL);
    await serve({ uploads: { atomic: false } });
    const c = await client();
    const data = await startUpload(c, 'STOR existing.bin', Buffer.alloc(30_000, 1));
    await until(async () => (await temps()).length === 1, 'a temp file');
    expect(await fs.readFile(join(root, 'existing.bin'))).toEqual(ORIGINAL);
    data.end();
    await c.expect(226);
    expect(await sizeOf(join(root, 'existing.bin'))).toBe(30_000);
  });

  it('names starting with the temp prefix are refused with 553, for every command', async () => {
    await fs.mkdir(join(root, 'd'));
    await serve();
    const c = await client();
    for (const name of [TEMP_PREFIX + 'x', `d/${TEMP_PREFIX}0123456789abcdef`, TEMP_PREFIX]) {
      expect((await tryUpload(c, `STOR ${name}`, 'x')).code, `STOR ${name}`).toBe(553);
      expect((await tryUpload(c, `APPE ${name}`, 'x')).code, `APPE ${name}`).toBe(553);
      for (const cmd of ['MKD', 'DELE', 'RMD', 'SIZE', 'MDTM', 'CWD', 'RNFR']) {
        expect((await c.cmd(`${cmd} ${name}`)).code, `${cmd} ${name}`).toBe(553);
      }
      await c.expectCmd('RNFR d', 350);
      await c.expectCmd(`RNTO ${name}`, 553);
    }
    expect((await tryUpload(c, `STOR x${TEMP_PREFIX}`, 'fine')).code).toBe(226); // only as a prefix
    expect(await temps()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------

type Failure = 'ENOSPC' | 'ABOR' | 'data connection cut' | 'control connection cut';
const FAILURES: Failure[] = ['ENOSPC', 'ABOR', 'data connection cut', 'control connection cut'];
const SENT = Buffer.alloc(64 * 1024, 0x5a);

/**
 * Starts `cmd` (an upload of SENT, not ended), waits until the server has written all of it (`landed`),
 * then makes it fail; resolves once the server is done with it. Returns the failure reply (undefined when
 * the control connection is gone).
 */
async function failUpload(cmd: string, failure: Failure, landed: () => Promise<boolean>): Promise<number | undefined> {
  const c = await client();
  // Far more than the backend takes, so the client is still sending when the disk is full.
  if (failure === 'ENOSPC') return (await tryUpload(c, cmd, Buffer.alloc(4 * 1024 * 1024, SENT[0]))).code;
  const data = await startUpload(c, cmd, SENT);
  await until(landed, 'the bytes sent are on disk');
  if (failure === 'ABOR') {
    c.send('ABOR');
    await c.expect(426);
    await c.expect(226);
    return 426;
  }
  if (failure === 'data connection cut') {
    data.resetAndDestroy();
    return (await c.reply()).code;
  }
  const ended = sessionEnd(t!);
  c.close();
  data.resetAndDestroy();
  await ended;
  return undefined;
}

const EXPECTED: Record<Failure, number | undefined> = { ENOSPC: 452, ABOR: 426, 'data connection cut': 426, 'control connection cut': undefined };

for (const uploads of [{}, { atomic: false, partial: 'keep' }] as const) {
  const label = JSON.stringify(uploads);
  describe(`an existing file survives every failed upload (uploads: ${label})`, () => {
    for (const failure of FAILURES) {
      it(failure, async () => {
        await fs.writeFile(join(root, 'precious.bin'), ORIGINAL);
        const home = failure === 'ENOSPC' ? new DiskFullStorage(new LocalStorage(root, { atomicUploads: uploads.atomic ?? true, partialUploads: 'partial' in uploads ? uploads.partial : 'delete' }), 10_000) : root;
        await serve({ uploads, home });
        const landed = async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === SENT.length;
        expect(await failUpload('STOR precious.bin', failure, landed)).toBe(EXPECTED[failure]);
        expect(await fs.readFile(join(root, 'precious.bin'))).toEqual(ORIGINAL);
        await until(async () => (await temps()).length === 0, 'no temp file left');
        if (failure !== 'control connection cut') {
          // and the session goes on
          expect((await tryUpload(clients.at(-1)!, 'STOR precious.bin', 'replaced at last')).code).toBe(226);
          expect(await fs.readFile(join(root, 'precious.bin'), 'utf8')).toBe('replaced at last');
        }
      });
    }
  });
}

for (const atomic of [true, false]) {
  for (const partial of ['delete', 'keep'] as const) {
    describe(`a new file that fails mid-way (uploads: atomic ${atomic}, partial ${partial})`, () => {
      for (const failure of FAILURES) {
        it(failure, async () => {
          const local = new LocalStorage(root, { atomicUploads: atomic, partialUploads: partial });
          await serve({ home: failure === 'ENOSPC' ? new DiskFullStorage(local, 10_000) : local });
          const landed = async () => {
            const where = atomic ? (await temps())[0] : 'new.bin';
            return where !== undefined && (await sizeOf(join(root, where))) === SENT.length;
          };
          expect(await failUpload('STOR new.bin', failure, landed)).toBe(EXPECTED[failure]);
          await until(async () => (await temps()).length === 0, 'no temp file left');
          if (partial === 'delete') {
            await until(async () => !(await exists(join(root, 'new.bin'))), 'the partial file removed');
          } else {
            const kept = await fs.readFile(join(root, 'new.bin'));
            expect(kept).toEqual(SENT.subarray(0, failure === 'ENOSPC' ? 10_000 : SENT.length));
          }
        });
      }

      it('keep or delete: a new file that got no byte at all is removed', async () => {
        await serve({ uploads: { atomic, partial } });
        const c = await client();
        const data = await c.epsv();
        c.send('STOR empty-fail.bin');
        await c.expect(150);
        data.resetAndDestroy();
        await c.expect(426);
        expect(await exists(join(root, 'empty-fail.bin'))).toBe(false);
        expect(await temps()).toEqual([]);
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------------

/** Mounts a 1 MiB tmpfs on a temp directory, or says why it cannot. */
async function mountTmpfs(): Promise<{ dir: string } | { reason: string }> {
  if (process.platform !== 'linux') return { reason: 'not Linux' };
  const dir = await fs.mkdtemp(join(tmpdir(), 'ftpsd-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    await fs.rmdir(dir).catch(() => {});
    return { reason: `cannot mount a tmpfs (${(r.stderr || r.error?.message || 'not permitted').trim()}): run as root to include it` };
  }
  return { dir };
}

const tmpfs = await mountTmpfs();
if ('reason' in tmpfs) console.warn(`skipping the real disk-full test: ${tmpfs.reason}`);

describe.skipIf('reason' in tmpfs)('disk full on a real file system (1 MiB tmpfs)', () => {
  const dir = 'dir' in tmpfs ? tmpfs.dir : '';
  afterEach(async () => {
    for (const name of await fs.readdir(dir)) await fs.rm(join(dir, name), { recursive: true, force: true });
  });
  afterAll(async () => {
    spawnSync('umount', [dir]);
    await fs.rmdir(dir).catch(() => {});
  });

  it('ENOSPC is 452; the existing file is intact, the new one and the temp file are gone', async () => {
    const existing = Buffer.alloc(300 * 1024, 7);
    await fs.writeFile(join(dir, 'existing.bin'), existing);
    await serve({ home: dir });
    const c = await client();
    const big = Buffer.alloc(2 * 1024 * 1024, 9);
    expect((await tryUpload(c, 'STOR existing.bin', big)).code).toBe(452);
    expect(await fs.readFile(join(dir, 'existing.bin'))).toEqual(existing);
    expect((await tryUpload(c, 'STOR new.bin', big)).code).toBe(452);
    expect(await exists(join(dir, 'new.bin'))).toBe(false);
    expect(await temps(dir)).toEqual([]);
    // the space is free again: a small upload works
    expect((await tryUpload(c, 'STOR small.bin', 'fits')).code).toBe(226);
  });

  it('partial: keep leaves what fitted of a new file', async () => {
    await serve({ home: dir, uploads: { atomic: false, partial: 'keep' } });
    const c = await client();
    const big = Buffer.alloc(2 * 1024 * 1024, 9);
    expect((await tryUpload(c, 'STOR new.bin', big)).code).toBe(452);
    const kept = await fs.readFile(join(dir, 'new.bin'));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(big.length);
    expect(kept).toEqual(big.subarray(0, kept.length));
  });
});

// ---------------------------------------------------------------------------------------------------

describe('quotas (users[].quota)', () => {
  const BASE = 10_000;
  beforeEach(async () => {
    await fs.mkdir(join(root, 'nested', 'deeper'), { recursive: true });
    await fs.writeFile(join(root, 'nested', 'deeper', 'base.bin'), Buffer.alloc(BASE, 1)); // found by the walk
    // links inside the home are followed by listings, but counted once (and a loop ends)
    await fs.symlink('.', join(root, 'self'));
    await fs.symlink('nested', join(root, 'alias'));
    await fs.symlink('../..', join(root, 'nested', 'deeper', 'up'));
  });

  it('bytes: an upload that would exceed the quota fails with 552; replacing counts the difference', async () => {
    await serve({ quota: { bytes: 100_000 } });
    const c = await client();
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(80_000, 2))).code).toBe(226); // 90 000
    expect((await tryUpload(c, 'STOR other.bin', Buffer.alloc(20_000, 3))).code).toBe(552);
    expect(await exists(join(root, 'other.bin'))).toBe(false);
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(90_000, 4))).code).toBe(226); // +10 000: exactly full
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(95_000, 5))).code).toBe(552); // +5 000: over
    expect(await fs.readFile(join(root, 'big.bin'))).toEqual(Buffer.alloc(90_000, 4)); // never damaged
    expect((await tryUpload(c, 'STOR tiny.bin', 'x')).code).toBe(552); // no byte left: refused at once
    expect((await tryUpload(c, 'STOR big.bin', Buffer.alloc(1_000, 6))).code).toBe(226); // shrinking is fine
    expect((await tryUpload(c, 'STOR other.bin', Buffer.alloc(20_000, 3))).code).toBe(226);
    expect(await temps()).toEqual([]);
  });

  it('the upload fails as soon as it would exceed the quota, not at its end', async () => {
    await serve({ quota: { bytes: 100_000 } });
    const c = await client();
    const data = await startUpload(c, 'STOR stream.bin', Buffer.alloc(80_000, 1));
    await until(async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === 80_000, '80 000 bytes written');
    const closed = once(data, 'close');
    data.write(Buffer.alloc(20_000, 2)); // 110 000 with the base file; the data connection stays open
    await c.expect(552, /quota/i);
    await closed; // the server closed the data connection
    expect(await exists(join(root, 'stream.bin'))).toBe(false);
    await until(async () => (await temps()).length === 0, 'the temp file removed');
  });

  it('APPE over the quota keeps the file and what fitted', async () => {
    await fs.writeFile(join(root, 'log.txt'), 'start\n');
    await serve({ quota: { bytes: BASE + 6 + 100 } });
    const c = await client();
    expect((await tryUpload(c, 'APPE log.txt', 'x'.repeat(200))).code).toBe(552);
    const after = await fs.readFile(join(root, 'log.txt'), 'utf8');
    expect(after.startsWith('start\n')).toBe(true);
    expect(after.length).toBeLessThanOrEqual(106);
  });

  it('files: a new file needs a free slot (552 before any data); deleting frees one', async () => {
    await serve({ quota: { files: 2 } });
    const c = await client();
    expect((await tryUpload(c, 'STOR one.txt', '1')).code).toBe(226);
    const data = await c.epsv();
    c.send('STOR two.txt');
    await c.expect(552); // no 150: refused before the transfer
    data.destroy();
    expect((await tryUpload(c, 'STOR one.txt', 'replaced')).code).toBe(226); // not a new file
    await c.expectCmd('DELE one.txt', 250);
    expect((await tryUpload(c, 'STOR two.txt', '2')).code).toBe(226);
    await c.expectCmd('RNFR two.txt', 350);
    await c.expectCmd('RNTO nested/deeper/base.bin', 250); // replaces a file: one file less
    expect((await tryUpload(c, 'STOR three.txt', '3')).code).toBe(226);
  });

  it('one usage for all sessions of the user: in-flight uploads count, ALLO sees it', async () => {
    await serve({ quota: { bytes: 100_000 } });
    const a = await client();
    const b = await client();
    const data = await startUpload(a, 'STOR a.bin', Buffer.alloc(60_000, 1));
    await until(async () => (await temps()).length === 1 && (await sizeOf(join(root, (await temps())[0]!))) === 60_000, 'a.bin in flight');
    expect((await tryUpload(b, 'STOR b.bin', Buffer.alloc(40_000, 2))).code).toBe(552); // 10k + 60k + 40k
    data.end();
    await a.expect(226);
    await b.expectCmd('ALLO 40000', 452);
    await b.expectCmd('ALLO 30000', 202);
    expect((await tryUpload(b, 'STOR b.bin', Buffer.alloc(30_000, 2))).code).toBe(226);
    await a.expectCmd('DELE a.bin', 250);
    await b.expectCmd('ALLO 60000', 202);
  });

  it('config: users[].quota and uploads from a YAML file reach a running server', async () => {
    const hash = await hashPassword('qpw');
    await fs.writeFile(
      join(root, 'ftpsd.yaml'),
      ['root: ./data', 'stateDir: ./state', 'uploads: { atomic: false, partial: keep }', 'users:', '  - name: quinn', `    password: "${hash}"`, '    quota: { bytes: 1000, files: 10 }', ''].join('\n'),
    );
    const config = await loadConfig({ config: join(root, 'ftpsd.yaml') }, { env: {}, cwd: root });
    expect(config.uploads).toEqual({ atomic: false, partial: 'keep' });
    expect(config.users[0]?.quota).toEqual({ bytes: 1000, files: 10 });
    const { options } = await toServerOptions(config, silentLogger);
    const server = new FtpServer({ ...options, listen: [{ host: '127.0.0.1', port: 0 }], implicitListen: [], tlsRequired: 'off', limits: { loginFailureDelayMs: 10 } });
    const { explicit } = await server.listen();
    const c = await RawClient.connect(explicit[0]!.port);
    try {
      await c.login('quinn', 'qpw');
      await c.expectCmd('TYPE I', 200);
      expect((await tryUpload(c, 'STOR a.bin', Buffer.alloc(800))).code).toBe(226);
      // over the quota: 552, and the new file goes although the policy is `keep`
      expect((await tryUpload(c, 'STOR b.bin', Buffer.alloc(300))).code).toBe(552);
      expect(await exists(join(root, 'data', 'b.bin'))).toBe(false);
      // atomic: false: a new file is written under its final name
      const data = await startUpload(c, 'STOR c.bin', Buffer.alloc(100));
      await until(async () => (await sizeOf(join(root, 'data', 'c.bin'))) === 100, 'c.bin in place');
      data.end();
      await c.expect(226);
    } finally {
      c.close();
      await server.close();
    }
  });
});
