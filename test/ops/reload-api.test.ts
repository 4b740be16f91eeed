/**
 * `FtpServer.reconfigure()` for embedders: all or nothing (a bad value throws and changes nothing),
 * new connections get the new settings, every login asks the current authenticator, running sessions
 * keep their login, and bans in force survive a new ban policy.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserAuthenticator } from '../../src/auth/users.js';
import { generateSelfSigned, type GeneratedCert } from '../../src/tls/self-signed.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';

describe('server.reconfigure()', () => {
  let t: TestServer;
  let other: string;
  let cert: GeneratedCert;

  beforeAll(async () => {
    t = await startServer({ greeting: 'first', security: { ban: { failures: 2 } } });
    other = await mkdtemp(join(tmpdir(), 'ftpsd-reconf-'));
    await writeFile(join(other, 'other.txt'), 'x');
    cert = await generateSelfSigned();
  });
  afterAll(async () => {
    await t.close();
    await rm(other, { recursive: true, force: true });
  });

  it('a bad value throws and changes nothing', async () => {
    expect(() => t.server.reconfigure({ security: { deny: ['127.0.0.0/99'] } })).toThrow(/prefix length/);
    expect(() => t.server.reconfigure({ pasvAdvertisedPorts: { min: 1000, max: 1001 } })).toThrow(/needs pasvPorts/);
    expect(() => t.server.reconfigure({ greeting: 'second', tls: { cert: 'not a certificate', key: 'nor a key' } })).toThrow();
    expect(() => t.server.reconfigure({ proxyProtocol: ['nonsense'] })).toThrow(/not a network/);
    const c = await RawClient.connect(t.port, '127.0.0.1', { greeting: false });
    await c.expect(220, /^220 first$/);
    await c.login(USER, PASS);
    c.close();
  });

  it('new connections get the new settings and lists; running sessions keep their login', async () => {
    const old = await RawClient.connect(t.port);
    await old.login(USER, PASS);
    await old.expectCmd('TYPE I', 200);
    const waiting = await RawClient.connect(t.port);
    t.server.reconfigure({
      greeting: 'second',
      security: { deny: ['127.0.0.30/32'], ban: { failures: 2 } },
      authenticator: new UserAuthenticator([{ name: 'zoe', password: { plain: 'zoe-pw' }, home: other }]),
      tls: cert,
    });
    // The session from before: same login, same files.
    await old.expectCmd('NOOP', 200);
    await old.expectCmd('SIZE other.txt', 550, /^550 /);
    // A connection from before logs in with the new users.
    await waiting.expectCmd(`USER ${USER}`, 331);
    await waiting.expectCmd(`PASS ${PASS}`, 530);
    await waiting.login('zoe', 'zoe-pw');
    await waiting.expectCmd('TYPE I', 200);
    await waiting.expectCmd('SIZE other.txt', 213);
    // New connections: the greeting, the deny list, the certificate.
    const fresh = await RawClient.connect(t.port, '127.0.0.1', { greeting: false });
    await fresh.expect(220, /^220 second$/);
    await fresh.auth();
    expect((fresh.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256).toBe(cert.fingerprint256);
    const denied = await RawClient.connect(t.port, '127.0.0.1', { localAddress: '127.0.0.30', greeting: false });
    await denied.expect(421, /Access denied/);
    for (const c of [old, waiting, fresh]) c.close();
  });

  it('bans in force survive a new ban policy', async () => {
    for (let i = 0; i < 2; i++) {
      const c = await RawClient.connect(t.port, '127.0.0.1', { localAddress: '127.0.0.31' });
      await c.expectCmd('USER zoe', 331);
      await c.expectCmd('PASS wrong', 530);
      c.close();
    }
    expect(t.server.throttle?.bannedUntil('127.0.0.31')).toBeDefined();
    t.server.reconfigure({ security: { ban: { failures: 5, durationMs: 7_200_000 } } });
    expect(t.server.throttle?.policy.failures).toBe(5);
    expect(t.server.throttle?.bannedUntil('127.0.0.31')).toBeDefined();
    const c = await RawClient.connect(t.port, '127.0.0.1', { localAddress: '127.0.0.31', greeting: false });
    await c.expect(421, /failed logins/);
    t.server.reconfigure({ security: { ban: false } });
    expect(t.server.throttle).toBeUndefined();
    const ok = await RawClient.connect(t.port, '127.0.0.1', { localAddress: '127.0.0.31' });
    await ok.login('zoe', 'zoe-pw');
    ok.close();
  });
});
