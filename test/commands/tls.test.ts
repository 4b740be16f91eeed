/**
 * AUTH PBSZ PROT (RFC 2228, RFC 4217), implicit FTPS, and TLS session reuse on data connections.
 * CCC: ccc.test.ts.
 */
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { allBytes, download, loggedIn, upload } from '../helpers/flows.js';
import { RawClient, readAll } from '../helpers/raw-client.js';
import { PASS, USER, usingServer } from '../helpers/server.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('AUTH', () => {
  const t = serverForBlock({}, { 'file.txt': 'secret data\n' });

  for (const mechanism of ['TLS', 'TLS-C', 'SSL', 'TLS-P', 'tls']) {
    it(`AUTH ${mechanism}: 234, then a TLS handshake, then commands over TLS`, async () => {
      const c = await RawClient.connect(t.port);
      await c.expectCmd(`AUTH ${mechanism}`, 234, new RegExp(`^234 Proceed with negotiation \\(AUTH ${mechanism.toUpperCase()}\\)\\.$`));
      await c.upgrade();
      expect((c.socket as TLSSocket).encrypted).toBe(true);
      await c.login(USER, PASS);
      await c.expectCmd('STAT', 211, /Control connection: TLS/);
      c.close();
    });
  }

  it('refuses AUTH without a mechanism (501) and an unknown one (504)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('AUTH', 501, /^501 Syntax: AUTH <sp> TLS$/);
    await c.expectCmd('AUTH KERBEROS_V4', 504, /^504 Unsupported security mechanism: use AUTH TLS\.$/);
    await c.expectCmd('AUTH GSSAPI', 504);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('refuses AUTH when TLS is already on (503)', async () => {
    const c = await RawClient.connect(t.port);
    await c.auth();
    await c.expectCmd('AUTH TLS', 503, /^503 TLS is already active\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('never executes plaintext pipelined after AUTH', async () => {
    const c = await RawClient.connect(t.port);
    c.write(`AUTH TLS\r\nUSER ${USER}\r\nPASS ${PASS}\r\nDELE file.txt\r\n`);
    await c.expect(234);
    // The injected bytes went to the TLS handshake, which failed: no 331, no 230, the connection is gone.
    await expect(c.reply(5000)).rejects.toThrow(/connection closed/);
    expect(c.isClosed).toBe(true);
    const check = await loggedIn(t, { binary: true });
    await check.expectCmd('SIZE file.txt', 213, /^213 12$/);
    check.close();
  });

  it('a plaintext command sent after the 234 instead of a ClientHello ends the connection', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('AUTH TLS', 234);
    c.send(`USER ${USER}`);
    await expect(c.reply(5000)).rejects.toThrow(/connection closed/);
  });

  it('AUTH starts the login again', async () => {
    const c = await loggedIn(t);
    await c.auth();
    await c.expectCmd('PWD', 530);
    await c.login(USER, PASS);
    c.close();
  });

  it('answers AUTH with 431 when the server has no certificate, and leaves TLS out of FEAT', async () => {
    await usingServer({ tls: undefined }, async (t2) => {
      const c = await RawClient.connect(t2.port);
      await c.expectCmd('AUTH TLS', 431, /^431 TLS is not available on this server\.$/);
      const feat = await c.expectCmd('FEAT', 211);
      expect(feat.text).not.toMatch(/AUTH|PBSZ|PROT|CCC/);
      await c.expectCmd('PBSZ 0', 503);
      c.close();
    });
  });
});

describe('PBSZ and PROT', () => {
  // PROT C and clear data after TLS need the opt-out; the default refuses them (hardening/clear-data.test.ts).
  const t = serverForBlock({ dataProtection: 'optional' }, { 'file.txt': 'protected bytes' });

  it('PBSZ needs TLS first (503), PROT needs PBSZ (503)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('PBSZ 0', 503, /^503 PBSZ needs a secure control connection: send AUTH TLS first\.$/);
    await c.expectCmd('PROT P', 503, /^503 PROT needs a secure control connection: send AUTH TLS first\.$/);
    await c.auth();
    await c.expectCmd('PROT P', 503, /^503 PROT needs PBSZ first\.$/);
    await c.expectCmd('PBSZ', 501);
    await c.expectCmd('PBSZ x', 501, /^501 PBSZ needs a number\.$/);
    await c.expectCmd('PBSZ 0', 200, /^200 PBSZ=0$/);
    await c.expectCmd('PROT P', 200, /^200 Protection level set to Private\.$/);
    c.close();
  });

  it('PROT S and E are refused (536), C and P accepted (200), anything else 504', async () => {
    const c = await RawClient.connect(t.port);
    await c.auth();
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT S', 536, /^536 Protection level S not supported\.$/);
    await c.expectCmd('PROT E', 536, /^536 Protection level E not supported\.$/);
    await c.expectCmd('PROT X', 504, /^504 Unknown protection level\.$/);
    await c.expectCmd('PROT C', 200, /^200 Protection level set to Clear\.$/);
    await c.expectCmd('PROT p', 200, /^200 Protection level set to Private\.$/);
    c.close();
  });

  it('PROT P protects downloads and uploads; PROT C goes back to clear data', async () => {
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe('protected bytes');
    const bytes = allBytes();
    await upload(c, 'STOR up.bin', bytes, { tls: true });
    expect((await readFile(join(t.root, 'up.bin'))).equals(bytes)).toBe(true);
    expect((await download(c, 'RETR up.bin', { tls: true })).equals(bytes)).toBe(true);
    await c.expectCmd('PROT C', 200);
    expect((await download(c, 'RETR file.txt')).toString()).toBe('protected bytes');
    c.close();
  });

  it('ABOR during a protected download: 426 then 226, and the session goes on', async () => {
    await writeFile(join(t.root, 'big.bin'), Buffer.alloc(16 * 1024 * 1024, 0x7a));
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    const data = await c.epsv();
    c.send('RETR big.bin');
    await c.expect(150);
    const tls = await c.protect(data);
    tls.pause();
    c.send('ABOR');
    await c.expect(426, /^426 Transfer aborted\.$/);
    await c.expect(226, /^226 Abort successful\.$/);
    tls.destroy();
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe('protected bytes');
    c.close();
  });

  it('REIN resets PBSZ and PROT', async () => {
    const c = await loggedIn(t, { auth: 'TLS' });
    await c.expectCmd('PROT P', 200);
    await c.expectCmd('REIN', 220);
    await c.expectCmd('PROT P', 503, /^503 PROT needs PBSZ first\.$/);
    await c.login(USER, PASS);
    await c.expectCmd('STAT', 211, /data protection: Clear/);
    c.close();
  });

  for (const mechanism of ['SSL', 'TLS-P']) {
    it(`AUTH ${mechanism} implies PBSZ 0 and PROT P`, async () => {
      const c = await RawClient.connect(t.port);
      await c.auth(mechanism);
      await c.login(USER, PASS);
      await c.expectCmd('STAT', 211, /data protection: Private/);
      await c.expectCmd('TYPE I', 200);
      expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe('protected bytes');
      c.close();
    });
  }

  it('AUTH TLS-C leaves data connections clear', async () => {
    const c = await RawClient.connect(t.port);
    await c.auth('TLS-C');
    await c.login(USER, PASS);
    await c.expectCmd('STAT', 211, /data protection: Clear/);
    await c.expectCmd('TYPE I', 200);
    expect((await download(c, 'RETR file.txt')).toString()).toBe('protected bytes');
    c.close();
  });
});

describe('implicit FTPS', () => {
  const t = serverForBlock({ implicit: true, dataProtection: 'optional' }, { 'file.txt': 'implicit' });

  it('greets over TLS and assumes PBSZ 0 and PROT P', async () => {
    const c = await RawClient.connect(t.implicitPort!, t.host, { implicit: true });
    expect((c.socket as TLSSocket).encrypted).toBe(true);
    await c.expectCmd('AUTH TLS', 503, /^503 TLS is already active\.$/);
    await c.login(USER, PASS);
    await c.expectCmd('STAT', 211, /Control connection: TLS; data protection: Private/);
    await c.expectCmd('TYPE I', 200);
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe('implicit');
    await c.expectCmd('PROT C', 200);
    expect((await download(c, 'RETR file.txt')).toString()).toBe('implicit');
    c.close();
  });

  it('a plaintext client on the implicit port gets no greeting', async () => {
    const c = await RawClient.connect(t.implicitPort!, t.host, { greeting: false });
    c.send('USER alice');
    await expect(c.reply(5000)).rejects.toThrow(/connection closed/);
  });
});

describe('TLS session reuse on data connections', () => {
  const t = serverForBlock({}, { 'file.txt': 'reused' });

  async function protectedClient(): Promise<RawClient> {
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    return c;
  }

  it('accepts a data connection that resumes the control session (226)', async () => {
    const c = await protectedClient();
    const data = await c.epsv();
    c.send('RETR file.txt');
    await c.expect(150);
    const tls = await c.protect(data);
    expect(tls.isSessionReused()).toBe(true);
    expect((await readAll(tls)).toString()).toBe('reused');
    await c.expect(226);
    c.close();
  });

  it('refuses a data connection that does not resume (425 with the reason)', async () => {
    const c = await protectedClient();
    const data = await c.epsv();
    c.send('RETR file.txt');
    await c.expect(150);
    const tls = await c.protect(data, false).catch(() => undefined);
    if (tls) expect(tls.isSessionReused()).toBe(false);
    await c.expect(425, /^425 Data connection refused: TLS session reuse required \(resume the control connection's TLS session\)\.$/);
    // The session goes on.
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe('reused');
    c.close();
  });

  it("refuses a data connection that resumes another control connection's session (425)", async () => {
    const victim = await protectedClient();
    const thief = await protectedClient();
    expect(victim.session).toBeDefined();
    const data = await thief.epsv();
    thief.send('RETR file.txt');
    await thief.expect(150);
    const tls = tlsConnect({ socket: data, rejectUnauthorized: false, servername: 'localhost', session: victim.session! });
    tls.on('error', () => {});
    await Promise.race([once(tls, 'secureConnect'), once(tls, 'close')]).catch(() => {});
    await thief.expect(425, /^425 Data connection refused: it resumed a TLS session other than the control connection's\.$/);
    victim.close();
    thief.close();
  });

  it("under 'allow', a data connection that does not resume is accepted", async () => {
    await usingServer({ sessionReuse: 'allow' }, async (t2) => {
      await writeFile(join(t2.root, 'file.txt'), 'allowed');
      const c = await loggedIn(t2, { auth: 'TLS', binary: true });
      await c.expectCmd('PROT P', 200);
      const data = await c.epsv();
      c.send('RETR file.txt');
      await c.expect(150);
      const tls = await c.protect(data, false);
      expect(tls.isSessionReused()).toBe(false);
      expect((await readAll(tls)).toString()).toBe('allowed');
      await c.expect(226);
      c.close();
    });
  });
});
