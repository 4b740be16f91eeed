/**
 * Protected (PROT P) binary uploads through caller-owned read buffers (src/data/receive-file.ts
 * `adoptTls`, src/data/user-buffer.ts), and the same with those turned off (`setUserBuffers(false)`: the
 * stream path a Node without the internals takes). Real clients (curl, lftp, basic-ftp, killed client
 * processes), real files; the end rules (close_notify, FIN, reset) on a bare `uploadTls` socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import * as fs from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createSecureContext, type SecureVersion } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataEndError, uploadTls } from '../../src/data/data-end.js';
import { Receiver } from '../../src/data/receive-file.js';
import { setUserBuffers, userBuffersAvailable } from '../../src/data/user-buffer.js';
import { basicFtp, curl, curlTarget, lftp, lftpOpen, lftpQuote } from '../e2e/clients.js';
import { expectSuccess } from '../e2e/helpers.js';
import { loggedIn } from '../helpers/flows.js';
import { loopbackListener, type LoopbackListener } from '../helpers/loopback-listener.js';
import { PASS, USER, testCert } from '../helpers/server.js';
import { ownedTls } from './tls-helpers.js';
import { until } from './transfer-helpers.js';
import { exists, root, serve, t, temps, useUploadRoot } from './upload-fixture.js';

const ENDLESS = fileURLToPath(new URL('./endless-upload.mjs', import.meta.url));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

useUploadRoot();

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  setUserBuffers(true);
});

it('this Node offers the internals the user-buffer path needs', () => {
  expect(userBuffersAvailable()).toBe(true);
});

for (const userBuffers of [true, false]) {
  describe(`PROT P uploads, ${userBuffers ? 'user buffers' : 'stream path'}`, () => {
    it('curl, lftp and basic-ftp: uploads arrive byte-identical (sizes around the record and chunk sizes)', async () => {
      setUserBuffers(userBuffers);
      const adopted = vi.spyOn(Receiver, 'adoptTls');
      await serve();
      const local = join(root, 'local');
      await fs.mkdir(local);
      const bodies = new Map<string, Buffer>();
      for (const size of [0, 1, 16 * 1024 + 1, 1024 * 1024, 3 * 1024 * 1024 + 7]) bodies.set(`f${size}.bin`, randomBytes(size));
      for (const [name, body] of bodies) await fs.writeFile(join(local, name), body);
      const target = curlTarget(t!, 'explicit');
      for (const name of bodies.keys()) expectSuccess(await curl([...target.args, '-T', join(local, name), `${target.url}/curl-${name}`]));
      const puts = [...bodies.keys()].map((n) => `put ${lftpQuote(join(local, n))} -o ${lftpQuote(`lftp-${n}`)}`);
      expectSuccess(await lftp([lftpOpen(t!, 'explicit'), ...puts].join('; ')));
      const client = await basicFtp(t!, 'explicit');
      try {
        // Not the empty file: basic-ftp closes that data connection before its TLS handshake (425 on any path).
        for (const name of bodies.keys()) if (name !== 'f0.bin') await client.uploadFrom(join(local, name), `basic-${name}`);
      } finally {
        client.close();
      }
      for (const [name, body] of bodies) {
        for (const who of name === 'f0.bin' ? ['curl', 'lftp'] : ['curl', 'lftp', 'basic']) expect(sha(await fs.readFile(join(root, `${who}-${name}`))), `${who}-${name}`).toBe(sha(body));
      }
      expect(await temps()).toEqual([]);
      // Every upload but basic-ftp's empty one went through adoptTls; with user buffers each non-empty one
      // was taken (an empty one may have ended before the transfer reads it: the stream path takes it).
      const taken = adopted.mock.results.map((r) => r.value !== undefined);
      adopted.mockRestore();
      expect(taken.length).toBe(3 * bodies.size - 1);
      const nonEmpty = taken.filter((_, i) => i !== 0 && i !== bodies.size);
      expect(nonEmpty).toEqual(Array<boolean>(nonEmpty.length).fill(userBuffers));
    });

    it('ABOR mid-upload: 426 then 226, no file under the final name, no temp file', async () => {
      setUserBuffers(userBuffers);
      await serve();
      const c = await loggedIn(t!, { auth: 'TLS', binary: true });
      try {
        await c.expectCmd('PROT P', 200);
        const raw = await c.epsv();
        c.send('STOR aborted.bin');
        await c.expect(150);
        const own = await ownedTls(raw, c.session);
        for (let i = 0; i < 8; i++) await new Promise<void>((r) => own.tls.write(randomBytes(256 * 1024), () => r()));
        await until(async () => (await temps()).length === 1, 'the temp file');
        c.send('ABOR');
        await c.expect(426);
        await c.expect(226);
        raw.destroy();
        await until(async () => (await temps()).length === 0, 'the temp file removed');
        expect(await exists(join(root, 'aborted.bin'))).toBe(false);
      } finally {
        c.close();
      }
    });

    it('a client killed mid-upload (SIGKILL): nothing under the final name, no temp file, an old file unchanged', async () => {
      setUserBuffers(userBuffers);
      await serve();
      await fs.writeFile(join(root, 'old.bin'), 'the original\n');
      for (const name of ['new.bin', 'old.bin']) {
        const ended = new Promise<void>((resolve) => t!.server.events.once('disconnect', () => resolve()));
        const child = spawn(process.execPath, [ENDLESS, String(t!.port), USER, PASS, 'P', `STOR ${name}`], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        await until(() => stdout.includes('sending') || child.exitCode !== null, 'the upload running');
        expect(child.exitCode).toBeNull();
        await until(async () => (await temps()).length === 1, 'the temp file');
        child.kill('SIGKILL');
        await ended;
        await until(async () => (await temps()).length === 0, 'the temp file removed');
      }
      expect(await exists(join(root, 'new.bin'))).toBe(false);
      expect(await fs.readFile(join(root, 'old.bin'), 'utf8')).toBe('the original\n');
    });
  });
}

describe('Receiver.adoptTls on a bare uploadTls socket', () => {
  let l: LoopbackListener;
  let context: ReturnType<typeof createSecureContext>;
  beforeAll(async () => {
    l = await loopbackListener();
    const cert = await testCert();
    context = createSecureContext({ cert: cert.cert, key: cert.key });
  });
  afterAll(() => l.server.close());

  type Ending = 'close_notify+fin' | 'fin' | 'rst';
  /**
   * Sends `size` bytes over TLS, ends as `ending` says, and receives through `Receiver.adoptTls` into a
   * storage whose writes take `writeMs` each; what arrived, how it ended, and the most bytes the server
   * had read ahead of what was written.
   */
  async function trial(ending: Ending, version: SecureVersion, requireCloseNotify: boolean, size: number, writeMs: number) {
    const raw = netConnect({ port: l.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    await once(raw, 'connect');
    const s = await l.accepted();
    const tls = uploadTls(s, { isServer: true, secureContext: context, requireCloseNotify });
    tls.on('error', () => {});
    const secure = once(tls, 'secure');
    const own = await ownedTls(raw, undefined, { maxVersion: version });
    await secure;
    const receiver = Receiver.adoptTls(tls);
    expect(receiver).toBeDefined();
    const got: Buffer[] = [];
    let written = 0;
    let ahead = 0;
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        got.push(Buffer.from(chunk));
        setTimeout(() => {
          written += chunk.length;
          cb();
        }, writeMs);
      },
    });
    const body = randomBytes(size);
    const result = receiver!
      .receive({ stream, commit: async () => {}, abort: async () => {} }, new AbortController().signal, () => {
        ahead = Math.max(ahead, s.bytesRead - written);
      })
      .then(
        () => 'end' as const,
        (err: Error) => (err instanceof DataEndError ? err.reason : `other: ${err.message}`),
      );
    await new Promise<void>((resolve) => own.tls.write(body, () => resolve()));
    await new Promise((r) => setImmediate(r));
    if (ending === 'close_notify+fin') {
      own.tls.end();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (ending === 'rst') raw.resetAndDestroy();
    else raw.end();
    const end = await result;
    tls.destroy();
    raw.destroy();
    return { end, same: sha(Buffer.concat(got)) === sha(body), ahead };
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: close_notify ends it with every byte; a FIN alone only when relaxed; a reset never`, async () => {
      for (const strict of [true, false]) {
        expect(await trial('close_notify+fin', version, strict, 3_000_001, 0)).toMatchObject({ end: 'end', same: true });
        const fin = await trial('fin', version, strict, 2_000_000, 0);
        if (strict) expect(fin.end).toBe('no-close-notify');
        else expect(fin).toMatchObject({ end: 'end', same: true });
        expect((await trial('rst', version, strict, 2_000_000, 0)).end).toBe('reset');
      }
    });
  }

  it('records that do not decrypt never complete an upload (and the process lives on)', async () => {
    for (const size of [1, 300_000]) {
      const raw = netConnect({ port: l.port, host: '127.0.0.1' });
      raw.on('error', () => {});
      await once(raw, 'connect');
      const s = await l.accepted();
      const tls = uploadTls(s, { isServer: true, secureContext: context, requireCloseNotify: true });
      tls.on('error', () => {});
      const secure = once(tls, 'secure');
      const own = await ownedTls(raw);
      await secure;
      const receiver = Receiver.adoptTls(tls);
      expect(receiver).toBeDefined();
      const stream = new Writable({ write: (_c, _e, cb) => cb() });
      const result = receiver!.receive({ stream, commit: async () => {}, abort: async () => {} }, new AbortController().signal, () => {}).then(
        () => 'end',
        (err: Error) => err.message,
      );
      await new Promise<void>((resolve) => own.tls.write(Buffer.alloc(50_000, 1), () => resolve()));
      // Whole application_data records (5-byte headers, 16 KiB each) that do not decrypt.
      for (let sent = 0; sent < size; sent += 16 * 1024) raw.write(Buffer.concat([Buffer.from([23, 3, 3, 0x40, 0]), randomBytes(16 * 1024)]));
      // TLS answers with an alert (bad_record_mac) but, as on the stream path, reports nothing to its
      // reader: the upload waits (the server's stall timeout ends it) until the connection goes.
      await new Promise((r) => setTimeout(r, 50));
      raw.destroy();
      expect(await result).not.toBe('end');
    }
  });

  it('a slow storage: reading stops while writes are behind (bounded read-ahead), and every byte arrives', async () => {
    const r = await trial('close_notify+fin', 'TLSv1.3', true, 24 * 1024 * 1024, 15);
    expect(r).toMatchObject({ end: 'end', same: true });
    // Two 1 MiB chunks being written, one being filled, one 256 KiB read, TLS records in flight: the
    // kernel's socket buffers (a few MiB on loopback) hold the rest of the client's data.
    expect(r.ahead).toBeLessThan(8 * 1024 * 1024);
  });
});
