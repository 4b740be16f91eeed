/**
 * Failed uploads over FTP (disk full through a fault-injecting Storage wrapper, ABOR, a cut data or
 * control connection): an existing file is never damaged, and a new file that fails mid-way follows the
 * partial-file policy (`uploads.partial`) under both `uploads.atomic` settings.
 */
import { Writable } from 'node:stream';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ForwardingStorage } from '../../src/storage/forwarding.js';
import { LocalStorage } from '../../src/storage/local.js';
import type { Storage, Upload, WriteOptions } from '../../src/storage/storage.js';
import type { VirtualPath } from '../../src/base/virtual-path.js';
import { startUpload, tryUpload, until } from './transfer-helpers.js';
import { ORIGINAL, client, clients, exists, root, serve, sessionEnd, sizeOf, t, temps, useUploadRoot } from './upload-fixture.js';

useUploadRoot();

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
