/**
 * The typed events of a server made by createServer: each is emitted once, at the right moment, with
 * complete data (session id, address, user, paths, bytes); `error` only goes to listeners (and without
 * one nothing throws).
 */
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createServer,
  defineCommand,
  MemoryStorage,
  type FtpsdServer,
  type ServerEventMap,
  type Storage,
  type Upload,
  type VirtualPath,
  type WriteOptions,
} from '../../src/index.js';
import { Client } from 'basic-ftp';
import { RawClient } from '../helpers/raw-client.js';
import { testCert } from '../helpers/server.js';
import { connect, portOf } from './helpers.js';

type Recorded = { name: keyof ServerEventMap; data: Record<string, unknown> };

const NAMES = ['connect', 'login', 'login-failed', 'upload', 'download', 'delete', 'rename', 'mkdir', 'disconnect'] as const;

function record(server: FtpsdServer): Recorded[] {
  const seen: Recorded[] = [];
  for (const name of NAMES) server.on(name, (data: object) => seen.push({ name, data: { ...data } as Record<string, unknown> }));
  return seen;
}

/** MemoryStorage that notes when an upload is committed (so `upload` can be checked to come after). */
function committing(memory: MemoryStorage, committed: Set<string>): Storage {
  return Object.assign(Object.create(memory) as MemoryStorage, {
    async write(path: VirtualPath, options: WriteOptions): Promise<Upload> {
      const upload = await memory.write(path, options);
      return { stream: upload.stream, abort: () => upload.abort(), commit: async () => {
        await upload.commit();
        committed.add('/' + path.join('/'));
      } };
    },
  });
}

let server: FtpsdServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(extra: Parameters<typeof createServer>[0] = {}): Promise<FtpsdServer> {
  const cert = await testCert();
  server = createServer({
    listen: '127.0.0.1:0',
    tls: { cert: cert.cert, key: cert.key },
    users: [{ name: 'alice', password: 'secret' }],
    storage: new MemoryStorage({ 'hello.txt': 'hello' }),
    limits: { loginFailureDelayMs: 0 },
    ...extra,
  });
  await server.listen();
  return server;
}

describe('events', () => {
  it('a whole session: connect, login-failed, login, mkdir, upload, download, rename, delete, disconnect, in order, with complete data', async () => {
    const memory = new MemoryStorage({ 'hello.txt': 'hello' });
    const committed = new Set<string>();
    const s = await start({ storage: committing(memory, committed) });
    const seen = record(s);
    let uploadedBeforeEvent: boolean | undefined;
    s.on('upload', (e) => (uploadedBeforeEvent = committed.has(e.path)));

    const bad = new Client(15_000);
    await expect(bad.access({ host: '127.0.0.1', port: portOf(s), user: 'alice', password: 'wrong', secure: true, secureOptions: { rejectUnauthorized: false } })).rejects.toThrow(/530/);
    bad.close();
    await once(s, 'disconnect');
    const client = await connect(s, 'alice', 'secret');
    await client.ensureDir('/dir');
    await client.uploadFrom(Readable.from([Buffer.from('0123456789')]), 'up.txt');
    const sink: Buffer[] = [];
    await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (sink.push(c), cb()) }), '/hello.txt');
    await client.rename('up.txt', 'moved.txt');
    await client.remove('moved.txt');
    await client.cd('/');
    await client.removeEmptyDir('dir');
    client.close();
    await once(s, 'disconnect');

    expect(seen.map((e) => e.name)).toEqual([
      'connect', 'login-failed', 'disconnect',
      'connect', 'login', 'mkdir', 'upload', 'download', 'rename', 'delete', 'delete', 'disconnect',
    ]);
    const [failedConnect, failed, failedDisconnect, connected, ...rest] = seen;
    const id = connected!.data.id;
    expect(typeof id).toBe('string');
    expect(failedConnect!.data).toEqual({ id: failed!.data.id, remoteAddress: '127.0.0.1' });
    expect(failed!.data).toEqual({ id: failedConnect!.data.id, remoteAddress: '127.0.0.1', user: 'alice' });
    expect(failedDisconnect!.data).toEqual({ id: failed!.data.id, remoteAddress: '127.0.0.1' });
    expect(failed!.data.id).not.toBe(id);
    expect(connected!.data).toEqual({ id, remoteAddress: '127.0.0.1' });
    const base = { id, remoteAddress: '127.0.0.1', user: 'alice' };
    const [login, mkdir, upload, download, rename, delFile, delDir, disconnect] = rest.map((e) => e.data);
    expect(login).toEqual(base);
    expect(mkdir).toEqual({ ...base, path: '/dir' });
    expect(upload).toEqual({ ...base, path: '/dir/up.txt', bytes: 10, durationMs: expect.any(Number), secure: true });
    expect(uploadedBeforeEvent, 'the file is committed when upload is emitted').toBe(true);
    expect(download).toEqual({ ...base, path: '/hello.txt', bytes: 5, durationMs: expect.any(Number), secure: true });
    expect(Buffer.concat(sink).toString()).toBe('hello');
    expect(rename).toEqual({ ...base, from: '/dir/up.txt', to: '/dir/moved.txt' });
    expect(delFile).toEqual({ ...base, path: '/dir/moved.txt', directory: false });
    expect(delDir).toEqual({ ...base, path: '/dir', directory: true });
    expect(disconnect).toEqual(base);
  });

  it('upload and download over clear data connections say secure: false; failed transfers emit nothing', async () => {
    const s = await start({ tlsRequired: 'off' });
    const seen = record(s);
    const client = await connect(s, 'alice', 'secret', { secure: false });
    await client.uploadFrom(Readable.from([Buffer.from('x')]), 'x.txt');
    await expect(client.downloadTo(new Writable({ write: (_c, _e, cb) => cb() }), 'missing.txt')).rejects.toThrow(/550/);
    client.close();
    await once(s, 'disconnect');
    expect(seen.filter((e) => e.name === 'upload' || e.name === 'download').map((e) => [e.name, e.data.secure, e.data.path])).toEqual([['upload', false, '/x.txt']]);
  });

  it('error: an unexpected failure goes to error listeners with the session id; the client gets 451', async () => {
    const boom = defineCommand({
      name: 'BOOM',
      arg: 'none',
      access: 'public',
      beforeTls: true,
      help: 'BOOM',
      handle() {
        throw new Error('kaput');
      },
    });
    const s = await start({ tlsRequired: 'off', commands: [boom] });
    const errors: (Error & { sessionId?: string })[] = [];
    s.on('error', (err) => errors.push(err));
    const c = await RawClient.connect(portOf(s));
    await c.expectCmd('BOOM', 451, /^451 Local error in processing\.$/);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toBe('kaput');
    expect(errors[0]!.sessionId).toBe(s.sessions.list()[0]!.id);
    // Expected failures (a reply the command chose, a storage error) are not errors.
    await c.expectCmd('NOPE', 500);
    c.close();
  });

  it('error: without a listener nothing throws and the session goes on', async () => {
    const boom = defineCommand({ name: 'BOOM', arg: 'none', access: 'public', beforeTls: true, help: 'BOOM', handle: () => Promise.reject(new Error('kaput')) });
    const s = await start({ tlsRequired: 'off', commands: [boom] });
    expect(s.listenerCount('error')).toBe(0);
    const c = await RawClient.connect(portOf(s));
    await c.expectCmd('BOOM', 451);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('error: a storage that fails a download unexpectedly', async () => {
    const memory = new MemoryStorage({ 'bad.bin': 'x' });
    const failing: Storage = Object.assign(Object.create(memory) as MemoryStorage, {
      read: async () => {
        throw new Error('disk on fire');
      },
    });
    const s = await start({ tlsRequired: 'off', storage: failing });
    const errors: Error[] = [];
    s.on('error', (err) => errors.push(err));
    const client = await connect(s, 'alice', 'secret', { secure: false });
    await expect(client.downloadTo(new Writable({ write: (_c, _e, cb) => cb() }), 'bad.bin')).rejects.toThrow(/451/);
    client.close();
    expect(errors.map((e) => e.message)).toEqual(['disk on fire']);
  });
});
