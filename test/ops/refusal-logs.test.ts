/**
 * Refusals an operator gets asked about leave an `info` line with a stable reason: a plain client on a
 * TLS-required server (530), and a protected data connection refused under session reuse `require` (425),
 * whose line names the clients that do this and the setting that lets them in.
 */
import { describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { USER, PASS, RO_USER, RO_PASS } from '../helpers/server.js';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { sessionsGone } from './helpers.js';
import { captureLog } from '../helpers/log-capture.js';
import { serversPerTest } from '../helpers/block-server.js';

const serve = serversPerTest();

describe('refusal log lines at info', () => {
  it('a plain client on a TLS-required server: one "command refused: TLS required" line per connection', async () => {
    const log = captureLog('info');
    const t = await serve({ logger: log.logger, tlsRequired: 'login' });
    const c = await RawClient.connect(t.port, t.host);
    await c.expectCmd(`USER ${USER}`, 530, /^530 TLS required: send AUTH TLS first\.$/);
    await c.expectCmd(`PASS ${PASS}`, 530);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    const refused = log.lines().filter((l) => l.msg === 'command refused: TLS required');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 30, reason: 'tls-required', cmd: 'USER', peer: '127.0.0.1', setting: 'tlsRequired: login' });
    expect(JSON.stringify(log.lines())).not.toContain(PASS);
  });

  it('a data connection that does not resume: the reason, the client families and the setting', async () => {
    const log = captureLog('info');
    const t = await serve({ logger: log.logger });
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    const data = await c.epsv();
    c.send('LIST');
    await c.expect(150);
    await c.protect(data, false).catch(() => undefined);
    await c.expect(425);
    c.close();
    await sessionsGone(t.server);
    const line = log.lines().find((l) => l.msg === 'data connection refused: TLS session reuse');
    expect(line).toMatchObject({ level: 30, reason: 'tls-session-not-resumed', detail: expect.stringMatching(/^Data connection refused: TLS session reuse required/) });
    expect(line!.hint).toMatch(/Java\/JSSE \(Apache commons-net FTPSClient\)/);
    expect(line!.hint).toMatch(/--session-reuse allow/);
    expect(log.text()).not.toContain('TLS session not resumed');
  });

  it('a refused permission: one "command refused: permission" line with the user, command and path', async () => {
    const log = captureLog('info');
    const t = await serve({ logger: log.logger });
    const c = await loggedIn(t, { user: RO_USER, pass: RO_PASS });
    await c.expectCmd('MKD /new-dir', 550, /^550 Permission denied\.$/);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    const refused = log.lines().filter((l) => l.msg === 'command refused: permission');
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({ level: 30, reason: 'permission-denied', user: RO_USER, cmd: 'MKD', path: '/new-dir', peer: '127.0.0.1' });
  });

  it('a failed TLS handshake: a short stable reason, not OpenSSL text', async () => {
    const log = captureLog('info');
    const t = await serve({ logger: log.logger, implicit: true });
    // A client that speaks plain FTP... to the implicit port: not TLS.
    const plain = tcpConnect(t.implicitPort!, t.host);
    plain.on('error', () => undefined);
    plain.write('USER x\r\n'.repeat(4));
    // A client that refuses the server's certificate (self-signed): unknown CA.
    const picky = tlsConnect({ port: t.implicitPort!, host: t.host, rejectUnauthorized: true });
    picky.on('error', () => undefined);
    await sessionsGone(t.server).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    plain.destroy();
    picky.destroy();
    await sessionsGone(t.server);
    const failed = log.lines().filter((l) => l.msg === 'TLS handshake failed');
    // The plain client: not-tls; the one that dropped the certificate: closed (Node sends no alert) or unknown-ca.
    expect(failed.map((l) => l.reason)).toContain('not-tls');
    expect(failed).toHaveLength(2);
    for (const l of failed) expect(['not-tls', 'closed', 'unknown-ca']).toContain(l.reason);
    for (const l of failed) expect(l).not.toHaveProperty('err');
  });

  it('security.sessionReuseAllow: its users get sessionReuse allow; others are refused with a line naming the setting', async () => {
    const log = captureLog('info');
    const t = await serve({ logger: log.logger, security: { sessionReuseAllow: { users: [USER] } } });
    // A client that does not resume (Java/JSSE), logged in as a listed user: served.
    const c = await loggedIn(t, { auth: 'TLS', binary: true });
    await c.expectCmd('PROT P', 200);
    const data = await c.epsv();
    c.send('LIST');
    await c.expect(150);
    const tls = await c.protect(data, false);
    tls.resume();
    await c.expect(226);
    c.close();
    // Another user: refused, and the log line names the setting.
    const other = await loggedIn(t, { auth: 'TLS', binary: true, user: RO_USER, pass: RO_PASS });
    await other.expectCmd('PROT P', 200);
    const data2 = await other.epsv();
    other.send('LIST');
    await other.expect(150);
    await other.protect(data2, false).catch(() => undefined);
    await other.expect(425);
    other.close();
    await sessionsGone(t.server);
    const refused = log.lines().filter((l) => l.msg === 'data connection refused: TLS session reuse');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.hint).toMatch(/security\.sessionReuseAllow/);
  });
});
