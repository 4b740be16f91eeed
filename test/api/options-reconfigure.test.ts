/**
 * `server.reconfigure()` on the server createServer makes (one public server class): options in
 * createServer's forms, checked the same way together with those in force (nothing changes on an
 * error), new connections get the new settings while a running session stays; options a running server
 * cannot change are refused by name. `updateTls` makes it a target of watchCertificate.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, createServer, generateSelfSigned, MemoryStorage, readWrite, type Authenticator } from '../../src/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { portOf } from './helpers.js';

const storage = new MemoryStorage({ 'a.txt': 'a' });
const authenticator: Authenticator = { login: async ({ user, password }) => (user === 'u' && password === 'p' ? { storage, permissions: readWrite } : null) };

function configError(action: () => unknown): string[] {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).lines();
  }
  throw new Error('expected a ConfigError');
}

describe('FtpsdServer.reconfigure()', () => {
  it('new connections get the new settings; a running session stays; bad or fixed options change nothing', async () => {
    const server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', authenticator, greeting: 'first' });
    expect(() => server.reconfigure({ greeting: 'x' })).toThrow(/not listening/);
    await server.listen();
    try {
      const port = portOf(server);
      const old = await RawClient.connect(port, '127.0.0.1', { greeting: false });
      await old.expect(220, /^220 first$/);
      await old.login('u', 'p');

      // Checked with the options in force: no certificate, so the TLS policy cannot become `login`.
      expect(configError(() => server.reconfigure({ tlsRequired: 'login' }))[0]).toMatch(/^tls: is required with tlsRequired: login/);
      expect(configError(() => server.reconfigure({ limits: { maxSessionsPerAddress: 0 } }))).toEqual(['limits.maxSessionsPerAddress: must be >= 1']);
      expect(configError(() => server.reconfigure({ listen: '127.0.0.1:0' } as never))).toEqual(['listen: cannot change on a running server (make a new server)']);
      expect(server.core?.settings).toMatchObject({ greeting: 'first', tlsRequired: 'off', limits: { maxSessionsPerAddress: 50 } });

      server.reconfigure({ greeting: 'second', limits: { maxSessionsPerAddress: 2 }, pasvPorts: { min: 40000, max: 40000 } });
      expect(server.core?.settings.pasvPorts).toEqual({ min: 40000, max: 40000 });
      const fresh = await RawClient.connect(port, '127.0.0.1', { greeting: false });
      await fresh.expect(220, /^220 second$/);
      const third = await RawClient.connect(port, '127.0.0.1', { greeting: false });
      await third.expect(421, /from your address/);
      third.close();
      // The session from before is still there.
      await old.expectCmd('NOOP', 200);
      for (const c of [old, fresh]) c.close();
    } finally {
      await server.close();
    }
  });

  it('updateTls replaces the certificate for new connections', async () => {
    const [a, b] = await Promise.all([generateSelfSigned(), generateSelfSigned()]);
    const server = createServer({ listen: '127.0.0.1:0', tls: { cert: a.cert, key: a.key }, authenticator });
    await server.listen();
    try {
      server.updateTls({ cert: b.cert, key: b.key });
      const c = await RawClient.connect(portOf(server));
      await c.auth();
      expect((c.socket as import('node:tls').TLSSocket).getPeerX509Certificate()?.fingerprint256).toBe(b.fingerprint256);
      c.close();
    } finally {
      await server.close();
    }
  });
});
