/**
 * CCC (RFC 4217 section 12.3): back to a plaintext control connection after a close_notify exchange, on
 * the same TCP connection; refused where the policy keeps the control channel protected.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { authClearable, ccc } from '../helpers/ccc.js';
import { download } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, RO_PASS, RO_USER, USER, usingServer } from '../helpers/server.js';
import { serverForBlock } from '../helpers/block-server.js';

describe('CCC', () => {
  const t = serverForBlock({ tlsRequired: 'login' }, { 'file.txt': 'after ccc' });

  it('refuses CCC on a clear connection (533)', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('CCC', 533, /^533 The command channel is not protected\.$/);
    c.close();
  });

  it('refuses CCC before login when TLS is required for login (533)', async () => {
    const c = await RawClient.connect(t.port);
    await c.auth();
    await c.expectCmd('CCC', 533, /^533 CCC refused by policy/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('200, the close_notify exchange, then plaintext on the same TCP connection', async () => {
    const c = await RawClient.connect(t.port);
    const localPort = c.raw.localPort;
    const tls = await authClearable(c);
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT P', 200);
    await c.login(USER, PASS);
    await ccc(c);
    expect(tls.readableEnded).toBe(true);
    expect(c.socket).toBe(c.raw);
    expect(c.raw.localPort).toBe(localPort);
    // Plaintext commands and replies now, on the same socket.
    await c.expectCmd('STAT', 211, /Control connection: plain; data protection: Private/);
    await c.expectCmd('PWD', 257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('TYPE I', 200);
    // Data connections stay protected (PROT P) and still resume the control connection's session.
    expect((await download(c, 'RETR file.txt', { tls: true })).toString()).toBe('after ccc');
    await c.expectCmd('CCC', 533, /^533 The command channel is not protected\.$/);
    await c.expectCmd('QUIT', 221);
    expect(await c.waitClosed()).toBe(true);
  });

  it('after CCC, several plaintext commands in one write are all answered', async () => {
    const c = await RawClient.connect(t.port);
    await authClearable(c);
    await c.login(USER, PASS);
    await ccc(c);
    // Several commands in one write, in plaintext.
    c.write('NOOP\r\nPWD\r\n');
    await c.expect(200);
    await c.expect(257);
    c.close();
  });

  it('reads a plaintext command sent right behind the client close_notify', async () => {
    const c = await RawClient.connect(t.port);
    await authClearable(c);
    await c.login(USER, PASS);
    await ccc(c, { pipelined: 'PWD\r\n' });
    await c.expect(257, /^257 "\/" is the current directory\.$/);
    await c.expectCmd('NOOP', 200, /^200 NOOP ok\.$/);
    c.close();
  });

  it('after CCC and REIN, a new login needs TLS again: AUTH TLS works on the cleared connection', async () => {
    const c = await RawClient.connect(t.port);
    await authClearable(c);
    await c.login(USER, PASS);
    await ccc(c);
    await c.expectCmd('REIN', 220);
    await c.expectCmd(`USER ${USER}`, 530, /^530 TLS required: send AUTH TLS first\.$/);
    await c.auth();
    await c.login(USER, PASS);
    await c.expectCmd('STAT', 211, /Control connection: TLS/);
    c.close();
  });

  it('after CCC, USER, PASS and ACCT are refused in clear (530) and the session stays logged in', async () => {
    const c = await RawClient.connect(t.port);
    await authClearable(c);
    await c.login(USER, PASS);
    await ccc(c);
    for (const cmd of [`USER ${USER}`, `PASS ${PASS}`, 'ACCT acct', `USER ${RO_USER}`]) {
      await c.expectCmd(cmd, 530, /^530 TLS required: send AUTH TLS first\.$/);
    }
    // Nothing was reset: still logged in as before, and a new login needs TLS again.
    await c.expectCmd('PWD', 257);
    await c.expectCmd('STAT', 211, new RegExp(`Logged in as ${USER}`));
    await c.auth();
    await c.expectCmd(`USER ${RO_USER}`, 331);
    await c.expectCmd(`PASS ${RO_PASS}`, 230);
    c.close();
  });

  it('without a TLS requirement USER after CCC starts a new login as before', async () => {
    await usingServer({ tlsRequired: 'off' }, async (t2) => {
      const c = await RawClient.connect(t2.port);
      await authClearable(c);
      await c.login(USER, PASS);
      await ccc(c);
      await c.expectCmd(`USER ${RO_USER}`, 331);
      await c.expectCmd(`PASS ${RO_PASS}`, 230);
      c.close();
    });
  });

  it('drops a client that never completes the close_notify exchange', async () => {
    await usingServer({ tlsRequired: 'login', timeouts: { cccMs: 100 } }, async (t2) => {
      const c = await RawClient.connect(t2.port);
      await authClearable(c);
      await c.login(USER, PASS);
      c.send('CCC');
      // From now on we read nothing (not the 200, not the server's close_notify) and send no
      // close_notify: the server gives up after cccMs and closes the connection.
      c.raw.removeAllListeners('data');
      c.raw.resume();
      await Promise.race([once(c.raw, 'close'), new Promise((r) => setTimeout(r, 5000))]);
      expect(c.raw.destroyed).toBe(true);
    });
  });
});
