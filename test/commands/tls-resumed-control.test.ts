/**
 * A control connection that itself resumed a TLS session (clients that share one session cache across
 * connections: rclone, every Go client) binds its data connections as a full handshake does: they may
 * resume the very session the control connection resumed, and nothing else of another connection's.
 * TLS 1.2 and 1.3, explicit and implicit; real sockets, Node's TLS client.
 */
import { once } from 'node:events';
import { connect as tlsConnect, type SecureVersion, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { download, loggedIn } from '../helpers/flows.js';
import type { RawClient } from '../helpers/raw-client.js';
import { serverForBlock } from '../helpers/block-server.js';

/** Waits until the client holds a ticket (TLS 1.3 tickets arrive after the handshake). */
async function ticketOf(c: RawClient): Promise<Buffer> {
  for (let i = 0; i < 100 && !c.session; i++) {
    await c.expectCmd('NOOP', 200);
    if (!c.session) await new Promise((r) => setTimeout(r, 10));
  }
  expect(c.session).toBeDefined();
  return c.session!;
}

/** RETR over a data connection that resumes `session`; expects the 425 that refuses it. */
async function expectRefused(c: RawClient, session: Buffer, text: RegExp): Promise<void> {
  const data = await c.epsv();
  c.send('RETR file.txt');
  await c.expect(150);
  const tls = tlsConnect({ socket: data, rejectUnauthorized: false, servername: 'localhost', session });
  tls.on('error', () => {});
  await Promise.race([once(tls, 'secureConnect'), once(tls, 'close')]).catch(() => {});
  await c.expect(425, text);
}

describe('data connections of a control connection that resumed a TLS session', () => {
  const t = serverForBlock({ implicit: true }, { 'file.txt': 'resumed control' });

  const versions: SecureVersion[] = ['TLSv1.3', 'TLSv1.2'];
  for (const maxVersion of versions) {
    for (const implicit of [false, true]) {
      const mode = implicit ? 'implicit' : 'explicit';
      const login = (session?: Buffer) =>
        loggedIn(t, { ...(implicit ? { implicit } : { auth: 'TLS' }), binary: true, tls: { maxVersion, ...(session ? { session } : {}) } });

      it(`${maxVersion} ${mode}: connection 2 resumes connection 1's ticket and transfers (226)`, async () => {
        const first = await login();
        const ticket = await ticketOf(first);
        await first.expectCmd('QUIT', 221);
        first.close();

        const second = await login(ticket);
        expect((second.socket as TLSSocket).isSessionReused()).toBe(true);
        if (!implicit) await second.expectCmd('PROT P', 200);
        for (let i = 0; i < 3; i++) {
          expect((await download(second, 'RETR file.txt', { tls: true })).toString()).toBe('resumed control');
        }
        await second.expectCmd('QUIT', 221);
        second.close();
      });
    }
  }

  it('TLS 1.3: a data connection that resumes another ticket of the first connection is still refused (425)', async () => {
    const first = await loggedIn(t, { auth: 'TLS', binary: true, tls: { maxVersion: 'TLSv1.3' } });
    // TLS 1.3 sends two tickets after a full handshake: the second connection resumes the last one.
    await ticketOf(first);
    for (let i = 0; i < 50 && first.tickets.length < 2; i++) await first.expectCmd('NOOP', 200);
    const other = first.tickets.find((s) => !s.equals(first.session!));
    const second = await loggedIn(t, { auth: 'TLS', binary: true, tls: { maxVersion: 'TLSv1.3', session: first.session! } });
    expect((second.socket as TLSSocket).isSessionReused()).toBe(true);
    await second.expectCmd('PROT P', 200);
    expect(other).toBeDefined();
    await expectRefused(second, other!, /^425 Data connection refused: it resumed a TLS session other than the control connection's\.$/);
    // The session it resumed itself still works.
    expect((await download(second, 'RETR file.txt', { tls: true })).toString()).toBe('resumed control');
    first.close();
    second.close();
  });

  it("a third connection with a full handshake still cannot use that ticket on its data connection (425)", async () => {
    const first = await loggedIn(t, { auth: 'TLS', binary: true, tls: { maxVersion: 'TLSv1.3' } });
    const ticket = await ticketOf(first);
    const second = await loggedIn(t, { auth: 'TLS', binary: true, tls: { maxVersion: 'TLSv1.3', session: ticket } });
    const thief = await loggedIn(t, { auth: 'TLS', binary: true, tls: { maxVersion: 'TLSv1.3' } });
    await thief.expectCmd('PROT P', 200);
    await expectRefused(thief, ticket, /other than the control connection's/);
    for (const c of [first, second, thief]) c.close();
  });
});
