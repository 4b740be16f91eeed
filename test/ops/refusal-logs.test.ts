/**
 * Refusals an operator gets asked about leave an `info` line with a stable reason: a plain client on a
 * TLS-required server (530), and a protected data connection refused under session reuse `require` (425),
 * whose line names the clients that do this and the setting that lets them in.
 */
import { describe, expect, it } from 'vitest';
import { loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { USER, PASS } from '../helpers/server.js';
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
});
