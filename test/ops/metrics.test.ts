/**
 * The Prometheus endpoint: exact counter values after a scripted session over real sockets, a private
 * registry per server, and /healthz across shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FtpMetrics } from '../../src/ops/metrics.js';
import { Operations } from '../../src/ops/index.js';
import { loggedIn, upload, download, allBytes } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { httpGet, parseMetrics, sessionsGone } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function withMetrics(options: Parameters<typeof startServer>[0] = {}): Promise<{ t: TestServer; ops: Operations; url: string }> {
  const t = await startServer(options);
  const ops = await Operations.start(t.server, { metricsListen: { host: '127.0.0.1', port: 0 }, processMetrics: false });
  cleanups.push(async () => {
    await t.close();
    await ops.close(0);
  });
  return { t, ops, url: `http://127.0.0.1:${ops.metricsAddress!.port}` };
}

async function scrape(url: string): Promise<Map<string, number>> {
  const res = await httpGet(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(String(res.headers['content-type'])).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.body);
}

describe('metrics endpoint', () => {
  it('counts a scripted FTPS session exactly', async () => {
    const { t, url } = await withMetrics();
    const before = await scrape(url);
    expect(before.get('ftpsd_sessions_total')).toBe(0);
    expect(before.get('ftpsd_logins_total{result="ok"}')).toBe(0);
    expect(before.get('ftpsd_up')).toBe(1);

    const body = allBytes(1000);
    const c = await RawClient.connect(t.port, t.host);
    await c.auth('TLS');
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS wrong-password', 530);
    await c.login(USER, PASS);
    await c.expectCmd('TYPE I', 200);
    await c.expectCmd('PROT P', 200);
    await upload(c, 'STOR up.bin', body, { tls: true });
    expect(await download(c, 'RETR up.bin', { tls: true })).toEqual(body);
    // A protected data connection that does not resume the control session is refused.
    const data = await c.epsv();
    c.send('RETR up.bin');
    await c.expect(150);
    await c.protect(data, false).catch(() => undefined);
    await c.expect(425, /TLS session reuse required/);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);

    const m = await scrape(url);
    const expected: Record<string, number> = {
      ftpsd_sessions: 0,
      ftpsd_sessions_total: 1,
      'ftpsd_logins_total{result="ok"}': 1,
      'ftpsd_logins_total{result="failed"}': 1,
      'ftpsd_logins_total{result="banned"}': 0,
      'ftpsd_logins_total{result="too_many_sessions"}': 0,
      'ftpsd_logins_total{result="unavailable"}': 0,
      ftpsd_login_bans_total: 0,
      'ftpsd_tls_handshakes_total{channel="control",result="ok"}': 1,
      'ftpsd_tls_handshakes_total{channel="control",result="failed"}': 0,
      'ftpsd_tls_handshakes_total{channel="data",result="ok"}': 3,
      'ftpsd_tls_handshakes_total{channel="data",result="failed"}': 0,
      ftpsd_tls_reuse_refused_total: 1,
      'ftpsd_transfers_total{direction="upload",protection="private",result="ok"}': 1,
      'ftpsd_transfers_total{direction="upload",protection="private",result="failed"}': 0,
      'ftpsd_transfers_total{direction="download",protection="private",result="ok"}': 1,
      'ftpsd_transfers_total{direction="download",protection="private",result="failed"}': 1,
      'ftpsd_transfers_total{direction="upload",protection="clear",result="ok"}': 0,
      'ftpsd_transfers_total{direction="download",protection="clear",result="ok"}': 0,
      'ftpsd_transfer_bytes_total{direction="upload",protection="private"}': 1000,
      'ftpsd_transfer_bytes_total{direction="download",protection="private"}': 1000,
      'ftpsd_transfer_bytes_total{direction="upload",protection="clear"}': 0,
      'ftpsd_transfer_duration_seconds_count{direction="upload",result="ok"}': 1,
      'ftpsd_transfer_duration_seconds_count{direction="download",result="ok"}': 1,
      'ftpsd_transfer_duration_seconds_count{direction="download",result="failed"}': 1,
      // AUTH; PBSZ TYPE PROT; USER x2; PASS 530 and 230; EPSV x3; STOR and RETR 226; RETR 425; QUIT.
      'ftpsd_commands_total{code="234"}': 1,
      'ftpsd_commands_total{code="200"}': 3,
      'ftpsd_commands_total{code="331"}': 2,
      'ftpsd_commands_total{code="530"}': 1,
      'ftpsd_commands_total{code="230"}': 1,
      'ftpsd_commands_total{code="229"}': 3,
      'ftpsd_commands_total{code="226"}': 2,
      'ftpsd_commands_total{code="425"}': 1,
      'ftpsd_commands_total{code="221"}': 1,
      'ftpsd_command_errors_total{command="PASS",code="530"}': 1,
      'ftpsd_command_errors_total{command="RETR",code="425"}': 1,
    };
    for (const [series, value] of Object.entries(expected)) expect(m.get(series), series).toBe(value);
    // Nothing else was counted as a command or an error.
    const commands = [...m].filter(([k]) => k.startsWith('ftpsd_commands_total{')).reduce((n, [, v]) => n + v, 0);
    expect(commands).toBe(15);
    expect([...m.keys()].filter((k) => k.startsWith('ftpsd_command_errors_total{'))).toHaveLength(2);
  });

  it('counts banned logins, bans and unknown commands', async () => {
    const { t, url } = await withMetrics({ security: { ban: { failures: 2 } } });
    const early = await RawClient.connect(t.port, t.host); // connected before the ban
    const c = await RawClient.connect(t.port, t.host);
    await c.expectCmd('FROB', 500);
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS bad-1', 530);
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd('PASS bad-2', 530);
    await c.expect(421);
    await c.waitClosed();
    await early.expectCmd(`USER ${USER}`, 331);
    await early.expectCmd(`PASS ${PASS}`, 530);
    early.close();
    await sessionsGone(t.server);
    const m = await scrape(url);
    expect(m.get('ftpsd_logins_total{result="failed"}')).toBe(2);
    expect(m.get('ftpsd_logins_total{result="banned"}')).toBe(1);
    expect(m.get('ftpsd_logins_total{result="ok"}')).toBe(0);
    expect(m.get('ftpsd_login_bans_total')).toBe(1);
    expect(m.get('ftpsd_command_errors_total{command="UNKNOWN",code="500"}')).toBe(1);
    // The PASS that bans, and the one refused as banned, end with 530 then 421 (closing): 421 is final.
    expect(m.get('ftpsd_command_errors_total{command="PASS",code="530"}')).toBe(1);
    expect(m.get('ftpsd_command_errors_total{command="PASS",code="421"}')).toBe(2);
    expect(m.get('ftpsd_sessions_total')).toBe(2);
  });

  it('counts clear transfers under their own label', async () => {
    const { t, url } = await withMetrics();
    const c = await loggedIn(t, { binary: true });
    await upload(c, 'STOR clear.bin', 'x'.repeat(10));
    await download(c, 'RETR clear.bin');
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    const m = await scrape(url);
    expect(m.get('ftpsd_transfers_total{direction="upload",protection="clear",result="ok"}')).toBe(1);
    expect(m.get('ftpsd_transfers_total{direction="download",protection="clear",result="ok"}')).toBe(1);
    expect(m.get('ftpsd_transfer_bytes_total{direction="download",protection="clear"}')).toBe(10);
    expect(m.get('ftpsd_transfer_bytes_total{direction="download",protection="private"}')).toBe(0);
    expect(m.get('ftpsd_tls_handshakes_total{channel="control",result="ok"}')).toBe(0);
  });

  it('keeps two servers in one process apart (private registries)', async () => {
    const a = await withMetrics();
    const b = await withMetrics();
    const c = await loggedIn(a.t);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(a.t.server);
    expect((await scrape(a.url)).get('ftpsd_sessions_total')).toBe(1);
    expect((await scrape(b.url)).get('ftpsd_sessions_total')).toBe(0);
    // And neither touched prom-client's global registry.
    const { register } = await import('prom-client');
    expect(register.getSingleMetric('ftpsd_sessions_total')).toBeUndefined();
    // A metrics object alone (no endpoint) has its own registry too.
    const m1 = new FtpMetrics(a.t.server);
    const m2 = new FtpMetrics(a.t.server);
    expect(m1.registry).not.toBe(m2.registry);
    m1.detach();
    m2.detach();
  });

  it('answers /healthz with 200 while serving and 503 once shutting down; 404 elsewhere', async () => {
    const { t, ops, url } = await withMetrics();
    const ok = await httpGet(`${url}/healthz`);
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('ok\n');
    expect((await httpGet(`${url}/`)).status).toBe(404);
    // A running transfer keeps the server in its grace period: /healthz already says 503.
    const c = await loggedIn(t, { binary: true });
    const data = await c.epsv();
    c.send('STOR slow.bin');
    await c.expect(150);
    data.write('some bytes');
    const closing = t.server.close(30_000);
    const down = await httpGet(`${url}/healthz`);
    expect(down.status).toBe(503);
    expect(down.body).toBe('shutting down\n');
    expect((await scrape(url)).get('ftpsd_up')).toBe(0);
    data.end();
    await c.expect(226);
    await closing;
    await ops.close(0);
    await expect(httpGet(`${url}/healthz`)).rejects.toThrow();
    c.close();
  });
});
