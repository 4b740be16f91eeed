/**
 * data-end.ts on real loopback sockets: how the end of an upload's data connection is classified (FIN,
 * reset, close_notify), including resets Node reports as a clean end when the reader keeps up, with a
 * fast and a slow (paused) reader, TLS 1.2 and 1.3, and `requireCloseNotify` on and off.
 */
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { createSecureContext, type SecureContext, type SecureVersion } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataEndError, nativeTls, probeReset, tcpEnd, uploadTls, watchUploadEnd } from '../../src/data/data-end.js';
import { ownedTls } from '../hardening/tls-helpers.js';
import { loopbackListener as listener } from '../helpers/loopback-listener.js';
import { testCert } from '../helpers/server.js';

const SIZE = 2_000_000;

async function client(port: number): Promise<Socket> {
  const s = netConnect({ port, host: '127.0.0.1' });
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/**
 * Reads `s`, fast (flowing) or slow (paused 2 ms after each chunk): the bytes, and how it ended (`'end'`,
 * or the error).
 */
function reader(s: Socket, slow: boolean): Promise<{ bytes: number; end: 'end' | Error }> {
  return new Promise((resolve) => {
    let bytes = 0;
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      if (slow) {
        s.pause();
        setTimeout(() => s.resume(), 2);
      }
    });
    s.once('end', () => resolve({ bytes, end: 'end' }));
    s.once('error', (err) => resolve({ bytes, end: err }));
  });
}

describe('tcpEnd and probeReset (clear data connections)', () => {
  let l: Awaited<ReturnType<typeof listener>>;
  beforeAll(async () => (l = await listener()));
  afterAll(() => l.server.close());

  it('a FIN is a FIN, with a fast and a slow reader', async () => {
    for (const slow of [false, true]) {
      const c = await client(l.port);
      const s = await l.accepted();
      const ended = tcpEnd(s);
      const read = reader(s, slow);
      c.end(Buffer.alloc(SIZE, 1));
      expect(await ended).toBe('fin');
      expect(await read).toEqual({ bytes: SIZE, end: 'end' });
      s.destroy();
    }
  });

  it('a reset is a reset, also when Node reports it as the end (a fast reader)', async ({ annotate }) => {
    let hidden = 0;
    for (let i = 0; i < 10; i++) {
      for (const slow of [false, true]) {
        const c = await client(l.port);
        const s = await l.accepted();
        const ended = tcpEnd(s);
        const read = reader(s, slow);
        c.write(Buffer.alloc(SIZE, 1), () => c.resetAndDestroy());
        expect(await ended).toBe('reset');
        if ((await read).end === 'end') hidden++;
        s.destroy();
      }
    }
    // On Linux the fast reader usually gets 'end' for the reset (see data-end.ts): reported, not asserted,
    // the kernel's timing decides. What matters is the verdict above.
    await annotate(`${hidden} of 20 resets were reported by Node as a clean end ('end')`);
  });

  it('probeReset: false after a FIN, true after a reset, true for a destroyed socket', async () => {
    const c1 = await client(l.port);
    const s1 = await l.accepted();
    s1.resume();
    c1.end();
    await once(s1, 'end');
    expect(await probeReset(s1)).toBe(false);
    s1.destroy();
    expect(await probeReset(s1)).toBe(true);

    const c2 = await client(l.port);
    const s2 = await l.accepted();
    s2.resume();
    c2.resetAndDestroy();
    await new Promise((r) => {
      s2.once('end', r);
      s2.once('close', r);
    });
    expect(await probeReset(s2)).toBe(true);
  });
});

type Ending = 'close_notify+fin' | 'fin' | 'rst' | 'close_notify+rst';

// native: Node's TLS socket directly on the TCP socket, its reads fed by us (an early handshake's upload);
// pipe: TLS over a TcpPipe.
describe.each(['native', 'pipe'] as const)('uploadTls (protected data connections), %s wrapping', (wrapping) => {
  let l: Awaited<ReturnType<typeof listener>>;
  let context: SecureContext;
  beforeAll(async () => {
    l = await listener();
    const cert = await testCert();
    context = createSecureContext({ cert: cert.cert, key: cert.key });
  });
  afterAll(() => l.server.close());

  /** Uploads SIZE bytes over TLS and ends the way `ending` says; what the server's TLS stream reported. */
  async function trial(ending: Ending, version: SecureVersion, slow: boolean, requireCloseNotify: boolean) {
    const raw = await client(l.port);
    const s = await l.accepted();
    const options = { isServer: true, secureContext: context };
    const tls = wrapping === 'native' ? nativeTls(s, options) : uploadTls(s, { ...options, requireCloseNotify });
    if (wrapping === 'native') expect(watchUploadEnd(tls, requireCloseNotify)).toBe(true);
    tls.on('error', () => {});
    // Which wrapping this is: the native TLS socket is made on the TCP socket itself.
    expect((tls as unknown as { _parent?: unknown })._parent === s).toBe(wrapping === 'native');
    const result = reader(tls, slow).then(({ bytes, end }) => ({
      bytes,
      end: end === 'end' ? end : end instanceof DataEndError ? end.reason : `other: ${end.message}`,
    }));
    const own = await ownedTls(raw, undefined, { maxVersion: version });
    // A TLS client on a stream we own: ending TLS sends close_notify only; the TCP end is ours to send.
    await new Promise<void>((resolve) => own.tls.write(Buffer.alloc(SIZE, 7), () => resolve()));
    await new Promise((r) => setImmediate(r));
    if (ending === 'close_notify+fin' || ending === 'close_notify+rst') {
      own.tls.end();
      await new Promise((r) => setTimeout(r, 5));
    }
    if (ending.endsWith('fin')) raw.end();
    else raw.resetAndDestroy();
    const r = await result;
    tls.destroy();
    raw.destroy();
    return r;
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    for (const slow of [false, true]) {
      it(`${version}, ${slow ? 'slow' : 'fast'} reader: only close_notify ends it (or a FIN when relaxed); a reset never does`, async () => {
        for (const strict of [true, false]) {
          expect(await trial('close_notify+fin', version, slow, strict)).toEqual({ bytes: SIZE, end: 'end' });
          const fin = await trial('fin', version, slow, strict);
          if (strict) expect(fin.end).toBe('no-close-notify');
          else expect(fin).toEqual({ bytes: SIZE, end: 'end' });
          expect((await trial('rst', version, slow, strict)).end).toBe('reset');
          // close_notify then a reset: complete if TLS saw the close_notify first, else a reset; never short.
          const both = await trial('close_notify+rst', version, slow, strict);
          if (both.end === 'end') expect(both.bytes).toBe(SIZE);
          else expect(both.end).toBe('reset');
        }
      });
    }
  }
});
