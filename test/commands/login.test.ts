/**
 * USER PASS ACCT REIN QUIT HOST, and the TLS policy in front of them (`tlsRequired`).
 */
import { describe, expect, it } from 'vitest';
import { download, loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, RO_PASS, RO_USER, USER, startServer } from '../helpers/server.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('login', () => {
  const t = serverForBlock({ greeting: 'Welcome to the test server.' });

  it('greets with 220 and the configured text', async () => {
    const c = await RawClient.connect(t.port, t.host, { greeting: false });
    await c.expect(220, /^220 Welcome to the test server\.$/);
    c.close();
  });

  it('logs in with USER and PASS', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd(`USER ${USER}`, 331, /^331 Please specify the password\.$/);
    await c.expectCmd(`PASS ${PASS}`, 230, /^230 Login successful\.$/);
    await c.expectCmd('PWD', 257);
    await c.expectCmd(`PASS ${PASS}`, 230, /^230 Already logged in\.$/);
    c.close();
  });

  it('refuses a wrong password and an unknown user alike (530)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS nope', 530, /^530 Login incorrect\.$/);
    await c.expectCmd('PWD', 530);
    await c.expectCmd('USER mallory', 331, /^331 Please specify the password\.$/);
    await c.expectCmd(`PASS ${PASS}`, 530, /^530 Login incorrect\.$/);
    c.close();
  });

  it('takes a password with spaces verbatim, and an empty one', async () => {
    const t2 = await startServer({
      users: [
        { name: 'spacey', password: { plain: ' two words ' }, home: t.root },
        { name: 'empty', password: { plain: '' }, home: t.root },
      ],
    });
    try {
      const c = await RawClient.connect(t2.port);
      await c.expectCmd('USER spacey', 331);
      await c.expectCmd('PASS two words', 530);
      await c.expectCmd('USER spacey', 331);
      await c.expectCmd('PASS  two words ', 230);
      await c.expectCmd('USER empty', 331);
      await c.expectCmd('PASS', 230, /^230 Login successful\.$/);
      c.close();
    } finally {
      await t2.close();
    }
  });

  it('needs USER before PASS (503)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd(`PASS ${PASS}`, 503, /^503 Login with USER first\.$/);
    // A failed PASS forgets the user name too.
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS wrong', 530);
    await c.expectCmd(`PASS ${PASS}`, 503, /^503 Login with USER first\.$/);
    c.close();
  });

  it('a new USER logs the session out and starts again', async () => {
    const c = await loggedIn(t);
    await c.expectCmd(`USER ${RO_USER}`, 331);
    await c.expectCmd('PWD', 530);
    await c.expectCmd(`PASS ${RO_PASS}`, 230);
    await c.expectCmd('MKD x', 550, /^550 Permission denied\.$/);
    c.close();
  });

  it('answers ACCT with 202', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('ACCT billing', 202, /^202 ACCT not needed\.$/);
    c.close();
  });

  it('QUIT says 221 and closes', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('QUIT', 221, /^221 Goodbye\.$/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('REIN logs out and resets the transfer parameters, keeping the connection', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('CWD /', 250);
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('OPTS HASH MD5', 200, /^200 MD5$/);
    await c.expectCmd('REST 10', 350);
    await c.expectCmd('REIN', 220, /^220 Ready for new user\.$/);
    await c.expectCmd('PWD', 530, /^530 Please login with USER and PASS\.$/);
    await c.login(USER, PASS);
    await c.expectCmd('OPTS HASH', 200, /^200 SHA-256$/);
    await c.expectCmd('STAT', 211, /TYPE: ASCII/);
    c.close();
  });

  it('takes HOST before USER (220) and refuses it after (503)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('HOST ftp.example.com', 220, /^220 Host accepted\.$/);
    await c.expectCmd('HOST [::1]', 220, /^220 Host accepted\.$/);
    await c.expectCmd('HOST 127.0.0.1', 220);
    await c.expectCmd('HOST bad_name!', 501, /^501 Invalid host name\.$/);
    await c.expectCmd('HOST', 501);
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('HOST ftp.example.com', 503, /^503 HOST must come before USER\.$/);
    await c.expectCmd(`PASS ${PASS}`, 230);
    await c.expectCmd('HOST ftp.example.com', 503, /^503 HOST must come before USER\.$/);
    // After REIN the session starts over: HOST is allowed again.
    await c.expectCmd('REIN', 220);
    await c.expectCmd('HOST ftp.example.com', 220);
    c.close();
  });
});

describe('TLS required for login', () => {
  const t = serverForBlock({ tlsRequired: 'login' });

  it('refuses USER and PASS before AUTH (530) and allows FEAT, NOOP, HELP, AUTH', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd(`USER ${USER}`, 530, /^530 TLS required: send AUTH TLS first\.$/);
    await c.expectCmd(`PASS ${PASS}`, 530, /^530 TLS required: send AUTH TLS first\.$/);
    await c.expectCmd('SYST', 530, /TLS required/);
    await c.expectCmd('STAT', 530, /TLS required/);
    await c.expectCmd('FEAT', 211, /\r\n AUTH TLS\r\n/);
    await c.expectCmd('NOOP', 200);
    await c.expectCmd('HELP', 214);
    await c.expectCmd('OPTS UTF8 ON', 200);
    await c.auth();
    await c.login(USER, PASS);
    await c.expectCmd('PWD', 257);
    c.close();
  });

  it('allows QUIT before AUTH', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('QUIT', 221);
    expect(await c.waitClosed()).toBe(true);
  });

  it('after a TLS login, data must be protected: no PROT P, no transfer (521); PROT P works', async () => {
    const c = await loggedIn(t, { auth: 'TLS' });
    await c.epsv();
    await c.expectCmd('LIST', 521, /^521 Data connections must be protected: send PROT P\.$/);
    await c.expectCmd('PROT P', 200);
    expect((await download(c, 'LIST', { tls: true })).length).toBe(0);
    c.close();
  });

  it('after REIN on a TLS connection, a new login works without a new AUTH', async () => {
    const c = await loggedIn(t, { auth: 'TLS' });
    await c.expectCmd('REIN', 220);
    await c.login(USER, PASS);
    c.close();
  });
});

describe('TLS required for everything', () => {
  const t = serverForBlock({ tlsRequired: 'all' });

  it('refuses a transfer without PROT P (521), PROT C (534) and CCC (533)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd(`USER ${USER}`, 530, /TLS required/);
    await c.auth();
    await c.expectCmd('CCC', 533, /^533 CCC refused by policy: the command channel must stay protected\.$/);
    await c.login(USER, PASS);
    await c.expectCmd('EPSV', 229);
    await c.expectCmd('LIST', 521, /^521 Data connections must be protected: send PROT P\.$/);
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT C', 534, /^534 PROT C refused: data connections must be protected\.$/);
    await c.expectCmd('CCC', 533, /^533 CCC refused by policy/);
    await c.expectCmd('PROT P', 200);
    expect((await download(c, 'LIST', { tls: true })).toString()).toBe('');
    c.close();
  });

  it('does not list CCC in FEAT', async () => {
    const c = await RawClient.connect(t.port);
    const feat = await c.expectCmd('FEAT', 211);
    expect(feat.lines).toContain(' AUTH TLS');
    expect(feat.lines).toContain(' PROT');
    expect(feat.lines).not.toContain(' CCC');
    c.close();
  });
});
