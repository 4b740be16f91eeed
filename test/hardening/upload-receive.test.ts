/**
 * Plain binary uploads through caller-owned read buffers (src/data/receive-file.ts): the data socket is
 * moved to a `net.Socket` made with `onread` (passive: the accepted socket; active: connected paused),
 * and the bytes go to the storage in 1 MiB chunks, pooled for LocalStorage. Real clients (raw sockets,
 * Python ftplib in active mode, killed client processes), real files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Receiver } from '../../src/data/receive-file.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { PY_PRELUDE, python, pythonConfig, pythonOutput } from '../e2e/clients.js';
import { PASS, USER } from '../helpers/server.js';
import { expectSuccess } from '../e2e/helpers.js';
import { client, exists, root, serve, sessionEnd, sizeOf, t, temps, useUploadRoot } from './upload-fixture.js';
import { startUpload, tryDownload, tryUpload, until } from './transfer-helpers.js';

useUploadRoot();

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('plain binary uploads read into reused buffers', () => {
  it('passive: several uploads in a row (pooled chunks reused) arrive whole, sizes around the chunk size', async () => {
    await serve();
    const c = await client();
    for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 7, 5_000_011]) {
      const body = randomBytes(size);
      expect((await tryUpload(c, `STOR f${size}.bin`, body)).code).toBe(226);
      expect(sha(await fs.readFile(join(root, `f${size}.bin`)))).toBe(sha(body));
    }
    expect(await temps()).toEqual([]);
  });

  it('into a storage that keeps the chunks it is given (memory): every chunk is its own buffer', async () => {
    const storage = new MemoryStorage();
    await serve({ home: storage });
    const c = await client();
    const bodies = [randomBytes(2_500_000), randomBytes(3_100_000)];
    for (const [i, body] of bodies.entries()) expect((await tryUpload(c, `STOR m${i}.bin`, body)).code).toBe(226);
    for (const [i, body] of bodies.entries()) {
      const { reply, data } = await tryDownload(c, `RETR m${i}.bin`);
      expect(reply.code).toBe(226);
      expect(sha(data)).toBe(sha(body));
    }
  });

  it("a slow client's bytes reach the file before a chunk is full", async () => {
    await serve({ uploads: { atomic: false } });
    const c = await client();
    const data = await startUpload(c, 'STOR slow.bin', Buffer.alloc(1000, 1));
    await until(async () => (await sizeOf(join(root, 'slow.bin'))) === 1000, '1000 bytes on disk');
    data.end(Buffer.alloc(500, 2));
    await c.expect(226);
    expect(await sizeOf(join(root, 'slow.bin'))).toBe(1500);
  });

  it('active mode (Python ftplib, PORT): a 4 MiB upload arrives whole; TYPE A is still converted', async () => {
    await serve();
    const local = join(root, 'local.bin');
    const body = randomBytes(4 * 1024 * 1024 + 3);
    await fs.writeFile(local, body);
    await fs.mkdir(join(root, 'in'));
    const script = String.raw`
f = open_ftp(pasv=False)
with open(cfg['local'], 'rb') as fh:
    f.storbinary('STOR in/up.bin', fh, blocksize=1 << 16)
f.storlines('STOR in/text.txt', io.BytesIO(b'one\ntwo\n'))
f.quit()
out({'ok': True})
`;
    const r = expectSuccess(await python(script, pythonConfig(t!, 'plain', { local })));
    expect(pythonOutput(r)).toEqual({ ok: true });
    expect(sha(await fs.readFile(join(root, 'in', 'up.bin')))).toBe(sha(body));
    expect(await fs.readFile(join(root, 'in', 'text.txt'), 'utf8')).toBe('one\ntwo\n');
  });

  it('active mode: a client killed mid-STOR leaves neither a file nor a temp file, and an overwritten file unchanged', async () => {
    await serve();
    await fs.writeFile(join(root, 'old.bin'), 'the original\n');
    for (const name of ['new.bin', 'old.bin']) {
      const ended = sessionEnd(t!);
      const script = String.raw`
import time
f = open_ftp(pasv=False)
f.voidcmd('TYPE I')
conn = f.transfercmd('STOR ' + cfg['name'])
conn.sendall(b'x' * (1 << 20))
print('sending', flush=True)
# Keep sending (as a client killed mid-transfer does): the data connection's FIN then queues behind
# data, and the server sees the control connection go first. With an idle data connection both ends
# race, and in clear a FIN that wins is the end of the file (RFC 959 stream mode; docs/uploads.md).
for _ in range(4000):
    conn.sendall(b'x' * 65536)
time.sleep(60)
`;
      const child = spawn('python3', ['-c', PY_PRELUDE + script, JSON.stringify({ ...pythonConfig(t!, 'plain'), user: USER, password: PASS, name })], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      });
      children.push(child);
      let stdout = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      await until(() => stdout.includes('sending') || child.exitCode !== null, 'the upload running');
      expect(child.exitCode).toBeNull();
      await until(async () => (await temps()).length === 1, 'the temp file');
      child.kill('SIGKILL');
      await ended;
      expect(await temps()).toEqual([]);
    }
    expect(await exists(join(root, 'new.bin'))).toBe(false);
    expect(await fs.readFile(join(root, 'old.bin'), 'utf8')).toBe('the original\n');
  });
});

describe('Receiver.adopt', () => {
  async function pair(pauseOnConnect: boolean): Promise<{ server: Socket; client: Socket; close: () => void }> {
    const listener = createServer({ pauseOnConnect, allowHalfOpen: true });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const port = (listener.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    const [server] = (await once(listener, 'connection')) as [Socket];
    listener.close();
    return { server, client, close: () => (client.destroy(), server.destroy()) };
  }

  it('takes over a socket that has not read yet: the bytes and the end come through the receiver', async () => {
    const { server, client, close } = await pair(true);
    try {
      const receiver = Receiver.adopt(server);
      expect(receiver).toBeDefined();
      expect(server.destroyed).toBe(true);
      const got: Buffer[] = [];
      const { Writable } = await import('node:stream');
      const stream = new Writable({
        write(chunk: Buffer, _e, cb) {
          got.push(Buffer.from(chunk));
          cb();
        },
      });
      const body = randomBytes(2_345_678);
      client.end(body);
      await receiver!.receive({ stream, commit: async () => {}, abort: async () => {} }, new AbortController().signal, () => {});
      expect(sha(Buffer.concat(got))).toBe(sha(body));
    } finally {
      close();
    }
  });

  it('leaves alone a socket that already started reading', async () => {
    const { server, close } = await pair(false);
    try {
      expect(Receiver.adopt(server)).toBeUndefined();
      expect(server.destroyed).toBe(false);
    } finally {
      close();
    }
  });
});
