/**
 * Certificate and key reload without dropping sessions: for embedders (`watchCertificate`,
 * `CertificateReloader.reload()`) and in `ftpsd serve` (SIGHUP and file changes).
 */
import { constants } from 'node:crypto';
import { once } from 'node:events';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { CertificateReloader, watchCertificate } from '../../src/runtime/certificate-reload.js';
import { generateSelfSigned, type GeneratedCert } from '../../src/tls/self-signed.js';
import { allBytes } from '../helpers/flows.js';
import { RawClient, readAll, writeAll, type ClientTls } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ChildServer, killChildren, removeTempDirs, tempDir } from './child-server.js';
import { probe, within } from './tls-helpers.js';
import { until } from '../helpers/poll.js';

afterEach(killChildren);
afterAll(removeTempDirs);

async function writePair(dir: string, pem: { cert: string; key: string }): Promise<void> {
  await writeFile(join(dir, 'cert.pem'), pem.cert);
  await writeFile(join(dir, 'key.pem'), pem.key, { mode: 0o600 });
}

/** The certificate a new TLS connection to `port` (implicit FTPS) sees. */
async function servedFingerprint(port: number): Promise<string | undefined> {
  const p = await probe(port);
  return p.ok ? p.fingerprint256 : `failed: ${p.error}`;
}

type ClientKind = 'TLS 1.3' | 'TLS 1.2 tickets' | 'TLS 1.2 session ids';

/** How a kind of client does TLS (control and data connections alike). */
function tlsOf(kind: ClientKind): ClientTls {
  return {
    ...(kind === 'TLS 1.3' ? {} : { maxVersion: 'TLSv1.2' as const }),
    ...(kind === 'TLS 1.2 session ids' ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
  };
}

/** A logged-in explicit-FTPS client with PROT P, TLS as a given kind of client does it. */
async function protectedClient(port: number, kind: ClientKind): Promise<{ c: RawClient; session: () => Buffer }> {
  const c = await RawClient.connect(port);
  await c.auth('TLS', tlsOf(kind));
  await c.login('alice', 'secret');
  await c.expectCmd('PBSZ 0', 200);
  await c.expectCmd('PROT P', 200);
  await c.expectCmd('TYPE I', 200);
  return {
    c,
    session: () => {
      if (!c.session) throw new Error('no TLS session yet');
      return c.session;
    },
  };
}

/** One protected download and one upload on `c`; both must resume its session. */
async function protectedRoundTrip(c: RawClient, session: Buffer, kind: ClientKind, name: string): Promise<void> {
  const opts = { rejectUnauthorized: false, servername: 'localhost', session, ...tlsOf(kind) };
  const body = allBytes(200_000);
  const up = await c.epsv();
  c.send(`STOR ${name}`);
  await c.expect(150);
  const upTls = tlsConnect({ socket: up, ...opts });
  upTls.on('error', () => {});
  await once(upTls, 'secureConnect');
  expect(upTls.isSessionReused(), `${kind}: upload resumed`).toBe(true);
  await writeAll(upTls, body);
  await c.expect(226);

  const down = await c.epsv();
  c.send(`RETR ${name}`);
  await c.expect(150);
  const downTls: TLSSocket = tlsConnect({ socket: down, ...opts });
  downTls.on('error', () => {});
  await once(downTls, 'secureConnect');
  expect(downTls.isSessionReused(), `${kind}: download resumed`).toBe(true);
  expect((await readAll(downTls)).equals(body)).toBe(true);
  await c.expect(226);
}

describe('certificate reload for embedders', () => {
  let dir: string;
  let t: TestServer;
  let reloader: CertificateReloader;
  let a: GeneratedCert;
  const logged: Record<string, unknown>[] = [];

  beforeAll(async () => {
    dir = await tempDir();
    a = await generateSelfSigned();
    await writePair(dir, a);
    t = await startServer({ implicit: true, tls: a });
    // Reloads only when told to (the file watcher has its own test below).
    reloader = new CertificateReloader(t.server, files(), { logger });
    reloader.setCurrent(a);
  });
  const sink = { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) } as unknown as NodeJS.WritableStream;
  const logger = createLogger('debug', sink);
  const files = () => ({ cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') });
  afterAll(async () => {
    reloader.close();
    await t.close();
  });

  it('switches new connections to the new pair; running sessions go on, and their data connections still resume', async () => {
    expect(await servedFingerprint(t.implicitPort!)).toBe(a.fingerprint256);
    const kinds: ClientKind[] = ['TLS 1.3', 'TLS 1.2 tickets', 'TLS 1.2 session ids'];
    const before = await Promise.all(kinds.map((k) => protectedClient(t.port, k)));
    for (const [i, k] of kinds.entries()) await protectedRoundTrip(before[i]!.c, before[i]!.session(), k, `before-${i}.bin`);

    const b = await generateSelfSigned();
    await writePair(dir, b);
    const result = await reloader.reload('test');
    expect(result).toMatchObject({ ok: true, changed: true, fingerprint256: b.fingerprint256 });
    expect(await servedFingerprint(t.implicitPort!)).toBe(b.fingerprint256);
    const explicit = await RawClient.connect(t.port);
    await explicit.expectCmd('AUTH TLS', 234);
    await explicit.upgrade();
    expect((explicit.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256).toBe(b.fingerprint256);
    explicit.close();

    for (const [i, k] of kinds.entries()) {
      const { c, session } = before[i]!;
      await c.expectCmd('NOOP', 200);
      expect((c.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256).toBe(a.fingerprint256);
      await protectedRoundTrip(c, session(), k, `after-${i}.bin`);
      c.close();
    }
    expect(logged.some((l) => l.msg === 'certificate reloaded' && l.fingerprint256 === b.fingerprint256 && l.reason === 'test')).toBe(true);
    // The same files again: nothing to switch.
    expect(await reloader.reload('again')).toMatchObject({ ok: true, changed: false });
  });

  it('refuses a bad pair with a clear log line and keeps serving the current one', async () => {
    const current = await servedFingerprint(t.implicitPort!);
    const other = await generateSelfSigned();
    const good = await generateSelfSigned();
    const cases: [string, () => Promise<void>, RegExp][] = [
      ['key of another certificate', () => writePair(dir, { cert: other.cert, key: good.key }), /key\.pem: does not belong to the certificate/],
      ['not a certificate', () => writePair(dir, { cert: 'garbage\n', key: good.key }), /cert\.pem: not a PEM certificate/],
      ['not a key', () => writePair(dir, { cert: good.cert, key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), /key\.pem: not a PEM private key/],
      ['key missing', () => rm(join(dir, 'key.pem')), /key\.pem: cannot read \(no such file\)/],
    ];
    for (const [what, prepare, error] of cases) {
      await prepare();
      const before = logged.length;
      const result = await reloader.reload('test');
      expect(result.ok, what).toBe(false);
      if (!result.ok) expect(result.error, what).toMatch(error);
      const line = logged.slice(before).find((l) => l.level === 50);
      expect(line?.msg, what).toMatch(/^certificate reload refused \(.+\); keeping the current certificate$/);
      expect(String(line?.msg), what).toMatch(error);
      expect(await servedFingerprint(t.implicitPort!), what).toBe(current);
    }
  });

  it('refuses an expired certificate', async () => {
    const current = await servedFingerprint(t.implicitPort!);
    const elsewhere = await tempDir();
    await writePair(elsewhere, await generateSelfSigned());
    const late = new CertificateReloader(t.server, { cert: join(elsewhere, 'cert.pem'), key: join(elsewhere, 'key.pem') }, { now: () => new Date(Date.now() + 3000 * 86_400_000) });
    const result = await late.reload('test');
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/certificate expired on/) });
    expect(await servedFingerprint(t.implicitPort!)).toBe(current);
  });

  it('reloads by itself when the files change, in place or replaced by a rename', async () => {
    const watcher = await watchCertificate(t.server, files(), { debounceMs: 100, logger });
    const c = await generateSelfSigned();
    await writePair(dir, c);
    await until(async () => (await servedFingerprint(t.implicitPort!)) === c.fingerprint256, 'in-place change picked up');

    const d = await generateSelfSigned();
    await writeFile(join(dir, 'cert.pem.new'), d.cert);
    await writeFile(join(dir, 'key.pem.new'), d.key, { mode: 0o600 });
    await rename(join(dir, 'key.pem.new'), join(dir, 'key.pem'));
    await rename(join(dir, 'cert.pem.new'), join(dir, 'cert.pem'));
    await until(async () => (await servedFingerprint(t.implicitPort!)) === d.fingerprint256, 'renamed files picked up');
    expect(logged.some((l) => l.msg === 'certificate reloaded' && l.reason === 'file change')).toBe(true);
    watcher.close();
  });
});

describe('certificate reload in ftpsd serve', () => {
  it('reloads on SIGHUP and on file change, refuses a bad pair, and keeps sessions working', async () => {
    const dir = await tempDir();
    const a = await generateSelfSigned();
    await writePair(dir, a);
    const s = await ChildServer.start([
      '--listen', '127.0.0.1:0', '--implicit-listen', '127.0.0.1:0',
      '--root', join(dir, 'root'), '--state-dir', join(dir, 'state'),
      '--user', 'alice:secret', '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'),
    ]);
    expect(s.fingerprint).toBe(a.fingerprint256);
    const implicit = s.port('implicit');
    const session = await protectedClient(s.port(), 'TLS 1.3');

    const b = await generateSelfSigned();
    await writePair(dir, b);
    s.signal('SIGHUP');
    await s.waitForLog((l) => l.msg === 'certificate reloaded' && l.reason === 'SIGHUP' && l.fingerprint256 === b.fingerprint256);
    expect(await servedFingerprint(implicit)).toBe(b.fingerprint256);
    await protectedRoundTrip(session.c, session.session(), 'TLS 1.3', 'x.bin');

    // A bad pair (someone wrote the certificate but not yet its key): refused, B stays.
    const c = await generateSelfSigned();
    await writeFile(join(dir, 'cert.pem'), c.cert);
    s.signal('SIGHUP');
    const refused = await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('certificate reload refused'));
    expect(refused.msg).toMatch(/does not belong to the certificate.*keeping the current certificate/);
    expect(await servedFingerprint(implicit)).toBe(b.fingerprint256);

    // The key arrives: the file watcher completes the switch without a signal.
    await writeFile(join(dir, 'key.pem'), c.key, { mode: 0o600 });
    await s.waitForLog((l) => l.msg === 'certificate reloaded' && l.reason === 'file change' && l.fingerprint256 === c.fingerprint256);
    expect(await servedFingerprint(implicit)).toBe(c.fingerprint256);
    await protectedRoundTrip(session.c, session.session(), 'TLS 1.3', 'y.bin');
    session.c.close();

    expect(s.alive).toBe(true);
    const end = await within(s.stop('SIGTERM'), 20_000, 'exit');
    expect(end).toEqual({ code: 0, signal: null });
    expect(s.crash).toBeUndefined();
  });
});
