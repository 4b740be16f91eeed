/**
 * TLS hardening: protocol versions, cipher suites and their order, session lifetime, no session tickets
 * on data connections, and the close_notify exchange that ends a protected data connection.
 */
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { constants } from 'node:crypto';
import { connect, createServer as createTlsServer, getCiphers, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TLS12_CIPHERS } from '../../src/tls/context.js';
import { allBytes, loggedIn } from '../helpers/flows.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { startServer, usingServer, type TestServer } from '../helpers/server.js';
import { ownedTls, probe, rsaCert, ticketLifetimeHint, within, type Pem } from './tls-helpers.js';
import { serverForBlock } from '../helpers/block-server.js';

const ALLOWED_TLS12 = new Set(TLS12_CIPHERS.split(':'));

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Whether this Node/OpenSSL can speak `version` at all (against a local server that allows it). */
async function clientCanOffer(version: 'TLSv1' | 'TLSv1.1', pem: Pem): Promise<boolean> {
  const server = createTlsServer({ cert: pem.cert, key: pem.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const p = await probe(port, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
  server.close();
  return p.ok && p.protocol === version;
}

describe.each([
  ['ECDSA', async (): Promise<Pem | undefined> => undefined],
  ['RSA', (): Promise<Pem | undefined> => rsaCert()],
] as const)('TLS versions and cipher suites (%s certificate)', (_kind, makeCert) => {
  let t: TestServer;
  let pem: Pem;
  beforeAll(async () => {
    const rsa = await makeCert();
    t = await startServer({ implicit: true, ...(rsa ? { tls: rsa } : {}) });
    pem = rsa ?? t.cert;
  });
  afterAll(() => t.close());

  it('refuses TLS 1.1 and TLS 1.0 clients, on the implicit port and after AUTH TLS', async (ctx) => {
    for (const version of ['TLSv1.1', 'TLSv1'] as const) {
      if (!(await clientCanOffer(version, pem))) ctx.skip();
      const low = { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' };
      const implicit = await probe(t.implicitPort!, low);
      expect(implicit.ok, version).toBe(false);

      const c = await RawClient.connect(t.port);
      await c.expectCmd('AUTH TLS', 234);
      const explicit = await probe(0, { socket: c.raw, ...low });
      expect(explicit.ok, version).toBe(false);
      c.close();
    }
    // The same client code speaks TLS 1.2 and 1.3 with the server.
    expect(await probe(t.implicitPort!, { maxVersion: 'TLSv1.2' })).toMatchObject({ ok: true, protocol: 'TLSv1.2' });
    expect(await probe(t.implicitPort!)).toMatchObject({ ok: true, protocol: 'TLSv1.3' });
  });

  it('accepts only ECDHE with AEAD suites in TLS 1.2 (tries every suite this OpenSSL knows)', async () => {
    const accepted: string[] = [];
    const tried = getCiphers().filter((c) => !c.startsWith('tls_')).map((c) => c.toUpperCase());
    expect(tried.length).toBeGreaterThan(20);
    for (const cipher of tried) {
      const p = await probe(t.implicitPort!, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: `${cipher}:@SECLEVEL=0` });
      if (p.ok) accepted.push(p.cipher);
    }
    expect(accepted.length).toBeGreaterThanOrEqual(3); // one per AES-128, AES-256, ChaCha20 for the key type
    for (const name of accepted) {
      expect(ALLOWED_TLS12.has(name), name).toBe(true);
      expect(name).toMatch(/^ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
    }
  });

  it('picks the suite in its own order of preference, not the client’s', async () => {
    const sig = _kind === 'RSA' ? 'RSA' : 'ECDSA';
    const clientOrder = [`ECDHE-${sig}-CHACHA20-POLY1305`, `ECDHE-${sig}-AES256-GCM-SHA384`, `ECDHE-${sig}-AES128-GCM-SHA256`];
    const p = await probe(t.implicitPort!, { maxVersion: 'TLSv1.2', ciphers: clientOrder.join(':') });
    expect(p).toMatchObject({ ok: true, cipher: `ECDHE-${sig}-AES128-GCM-SHA256` });
  });

  it('openssl s_client -starttls ftp: CBC and RSA key exchange refused, ECDHE-GCM accepted', async (ctx) => {
    if (!hasOpenssl()) ctx.skip();
    const sig = _kind === 'RSA' ? 'RSA' : 'ECDSA';
    const run = (cipher: string) =>
      new Promise<string>((resolve) => {
        const child = execFile(
          'openssl',
          ['s_client', '-connect', `127.0.0.1:${t.port}`, '-starttls', 'ftp', '-tls1_2', '-cipher', `${cipher}:@SECLEVEL=0`],
          { timeout: 15_000 },
          (_err, stdout, stderr) => resolve(stdout + stderr),
        );
        child.stdin?.end();
      });
    expect(await run(`ECDHE-${sig}-AES128-GCM-SHA256`)).toMatch(new RegExp(`Cipher is ECDHE-${sig}-AES128-GCM-SHA256`));
    for (const weak of [`ECDHE-${sig}-AES128-SHA`, `ECDHE-${sig}-AES256-SHA384`, 'AES128-GCM-SHA256', 'AES256-SHA']) {
      const out = await run(weak);
      expect(out, weak).not.toMatch(/Cipher is (?!\(NONE\))/);
    }
  });
});

describe('TLS session lifetime', () => {
  const t = serverForBlock({ implicit: true });

  it('issues sessions valid for 24 hours (longer than any transfer), in TLS 1.3 and TLS 1.2', async () => {
    for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
      const p = await probe(t.implicitPort!, { maxVersion }, true);
      if (!p.ok) throw new Error(p.error);
      const session = await within(p.session, 5000, 'session');
      p.tls.destroy();
      expect(ticketLifetimeHint(session), maxVersion).toBe(86_400);
    }
  });
});

describe('no session tickets on data connections', () => {
  /**
   * Uploads over a protected data connection and reports what the client saw: the TLS version, the
   * session tickets it got (TLS 1.3 sends them after the handshake), and the 226.
   */
  async function protectedUpload(t: TestServer, opts: { resume: boolean; maxVersion?: 'TLSv1.2' | 'TLSv1.3'; minVersion?: 'TLSv1.3' }) {
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    const data = await c.epsv();
    c.send('STOR up.bin');
    await c.expect(150);
    const tls = connect({
      socket: data,
      rejectUnauthorized: false,
      servername: 'localhost',
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
      ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
      ...(opts.resume ? { session: c.session! } : {}),
    });
    let tickets = 0;
    tls.on('session', () => tickets++);
    tls.on('error', () => {});
    tls.resume(); // read what the server sends (tickets, close_notify)
    const closed = once(tls, 'close');
    await within(once(tls, 'secureConnect'), 10_000, 'data handshake');
    const body = allBytes(300_000);
    const protocol = tls.getProtocol();
    const reused = tls.isSessionReused();
    const ticket = tls.getTLSTicket();
    const reply = await new Promise<Awaited<ReturnType<RawClient['reply']>>>((resolve, reject) => {
      tls.end(body, () => c.reply().then(resolve, reject));
    });
    await within(closed, 10_000, 'data close');
    const stored = reply.code === 226 ? await readFile(join(t.root, 'up.bin')) : undefined;
    c.close();
    return { protocol, reused, tickets, ticket, reply, stored, body };
  }

  it("under 'require', a resuming data connection gets no ticket", async () => {
    await usingServer({}, async (t) => {
      const r = await protectedUpload(t, { resume: true });
      expect(r.reused).toBe(true);
      expect(r.protocol).toBe('TLSv1.3');
      expect(r.tickets).toBe(0);
      expect(r.reply.code).toBe(226);
      expect(r.stored!.equals(r.body)).toBe(true);
    });
  });

  for (const reuse of ['allow', 'off'] as const) {
    it(`under '${reuse}', a TLS 1.3 client that does not resume gets a ticketless TLS 1.2 data connection`, async () => {
      await usingServer({ sessionReuse: reuse }, async (t) => {
        const r = await protectedUpload(t, { resume: false });
        expect(r.reused).toBe(false);
        expect(r.protocol).toBe('TLSv1.2');
        expect(r.ticket).toBeUndefined();
        expect(r.reply.code).toBe(226);
        expect(r.stored!.equals(r.body)).toBe(true);
        if (reuse === 'allow') {
          const again = await protectedUpload(t, { resume: true });
          expect(again).toMatchObject({ reused: true, protocol: 'TLSv1.3', tickets: 0 });
          expect(again.reply.code).toBe(226);
        }
      });
    });
  }

  it("under 'allow', a client that only speaks TLS 1.3 and does not resume still connects", async () => {
    await usingServer({ sessionReuse: 'allow' }, async (t) => {
      const r = await protectedUpload(t, { resume: false, minVersion: 'TLSv1.3' });
      expect(r.protocol).toBe('TLSv1.3');
      expect(r.reply.code).toBe(226);
      expect(r.stored!.equals(r.body)).toBe(true);
    });
  });

  it('a TLS 1.2 client without tickets resumes by session id (as curl does) and gets no ticket', async () => {
    await usingServer({}, async (t) => {
      const c = await RawClient.connect(t.port);
      await c.auth('TLS', { maxVersion: 'TLSv1.2', secureOptions: constants.SSL_OP_NO_TICKET });
      await c.login('alice', 'secret');
      await c.expectCmd('PBSZ 0', 200);
      await c.expectCmd('PROT P', 200);
      await writeFile(join(t.root, 'f.txt'), 'by session id');
      expect(c.session).toBeDefined();
      expect((c.socket as TLSSocket).getTLSTicket()).toBeUndefined();
      const data = await c.epsv();
      c.send('RETR f.txt');
      await c.expect(150);
      const tls = await c.protect(data); // resumes c.session, TLS 1.2 without tickets
      expect(tls.isSessionReused()).toBe(true);
      expect(tls.getTLSTicket()).toBeUndefined();
      expect((await readAll(tls)).toString()).toBe('by session id');
      await c.expect(226);
      c.close();
    });
  });
});

describe('close_notify on protected data connections', () => {
  const t = serverForBlock({}, { 'big.bin': allBytes(2_000_000) });

  it('download: the server sends close_notify after the data, then waits for the client’s', async () => {
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    const data = await c.epsv();
    c.send('RETR big.bin');
    await c.expect(150);
    const own = await ownedTls(data, c.session);
    const chunks: Buffer[] = [];
    own.tls.on('data', (d: Buffer) => chunks.push(d));
    // The TLS stream ends although the raw EOF is not passed to it: that was a close_notify.
    await within(own.closeNotify, 10_000, "server's close_notify");
    expect(Buffer.concat(chunks).equals(allBytes(2_000_000))).toBe(true);
    await c.expect(226);
    // Our close_notify some time later is still read by the server: no reset.
    await new Promise((r) => setTimeout(r, 200));
    own.tls.end();
    await within(own.rawClosed, 10_000, 'data connection closed');
    expect(own.rawErrors).toEqual([]);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('upload: the client’s close_notify is answered with the server’s', async () => {
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    const data = await c.epsv();
    c.send('STOR up.bin');
    await c.expect(150);
    const own = await ownedTls(data, c.session);
    const body = allBytes(1_000_000);
    own.tls.end(body);
    await within(own.closeNotify, 10_000, "server's close_notify");
    await c.expect(226);
    await within(own.rawClosed, 10_000, 'data connection closed');
    expect(own.rawErrors).toEqual([]);
    expect((await readFile(join(t.root, 'up.bin'))).equals(body)).toBe(true);
    c.close();
  });
});

