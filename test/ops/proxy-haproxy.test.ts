/**
 * HAProxy (`mode tcp`, `send-proxy` and `send-proxy-v2`) in front of ftpsd, with real clients (curl,
 * lftp, a raw client) connecting to HAProxy from 127.0.0.5, so the real client's address differs from
 * the proxy's (127.0.0.1). Only control connections go through HAProxy; data connections go straight
 * to ftpsd's passive ports (the address in PASV is the one the client connected to: HAProxy and ftpsd
 * share it here), or ftpsd connects straight to the client (PORT/EPRT).
 *
 * Skipped, with a message, when haproxy is not installed (`apt-get install haproxy`; .ci/run does it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionInfo, TransferInfo } from '../../src/events.js';
import { curl, lftp, lftpQuote as q } from '../e2e/clients.js';
import { expectSuccess, sha256 } from '../e2e/helpers.js';
import { RawClient } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer } from '../helpers/server.js';
import { haproxyPath, startHaproxy, type Haproxy } from './service-helpers.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { until } from '../helpers/poll.js';

const HAPROXY = haproxyPath();
if (!HAPROXY) console.warn('HAProxy tests skipped: haproxy is not installed (apt-get install -y haproxy)');

const CLIENT = '127.0.0.5';
const NOPROXY = ['--noproxy', '*', '--interface', CLIENT];

describe.skipIf(!HAPROXY)('through HAProxy (mode tcp, PROXY protocol v1 and v2)', () => {
  let t: TestServer;
  let proxy: Haproxy;
  let log: CapturedLog;
  let work: string;
  const connects: SessionInfo[] = [];
  const uploads: TransferInfo[] = [];
  const url = (name: string, path = '/') => `ftp://127.0.0.1:${proxy.ports[name]}${path}`;

  beforeAll(async () => {
    log = captureLog('info');
    t = await startServer({ implicit: true, tlsRequired: 'off', proxyProtocol: ['127.0.0.1/32'], logger: log.logger });
    t.server.events.on('connect', (i) => connects.push(i));
    t.server.events.on('upload', (i) => uploads.push(i));
    proxy = await startHaproxy(HAPROXY!, [
      { name: 'v1', target: t.port, send: 'send-proxy' },
      { name: 'v2', target: t.port, send: 'send-proxy-v2' },
      { name: 'implicit', target: t.implicitPort!, send: 'send-proxy-v2' },
    ]);
    work = await mkdtemp(join(tmpdir(), 'ftpsd-haproxy-work-'));
  });

  afterAll(async () => {
    await proxy?.stop();
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the session sees the real client: STAT, the connect event and the log', async () => {
    for (const name of ['v1', 'v2']) {
      const c = await RawClient.connect(proxy.ports[name]!, '127.0.0.1', { localAddress: CLIENT });
      const stat = await c.cmd('STAT');
      expect(stat.text, name).toContain(`Connected from ${CLIENT}`);
      await c.login(USER, PASS);
      c.close();
    }
    // (The start-up probe of startHaproxy connects from 127.0.0.1, and is seen as that client.)
    expect(connects.map((i) => i.remoteAddress).filter((a) => a !== '127.0.0.1')).toEqual([CLIENT, CLIENT]);
    expect(log.find('connect').filter((l) => l.peer === CLIENT && l.proxy === '127.0.0.1').length).toBeGreaterThanOrEqual(2);
  });

  it('curl, plain FTP over v1: upload (EPSV) and download (PASV), data straight to ftpsd', async () => {
    const body = randomBytes(300_000);
    const local = join(work, 'up.bin');
    await writeFile(local, body);
    expectSuccess(await curl([...NOPROXY, '--user', `${USER}:${PASS}`, '-T', local, url('v1', '/curl-v1.bin')]));
    expect(sha256(await readFile(join(t.root, 'curl-v1.bin')))).toBe(sha256(body));
    await until(() => uploads.some((u) => u.path === '/curl-v1.bin'), 'the upload event');
    expect(uploads.find((u) => u.path === '/curl-v1.bin')?.remoteAddress).toBe(CLIENT);
    const back = join(work, 'back.bin');
    expectSuccess(await curl([...NOPROXY, '--disable-epsv', '--user', `${USER}:${PASS}`, '-o', back, url('v1', '/curl-v1.bin')]));
    expect(sha256(await readFile(back))).toBe(sha256(body));
  });

  it('curl, explicit FTPS over v2 (protected data resuming the TLS session)', async () => {
    const body = randomBytes(200_000);
    await writeFile(join(t.root, 'tls.bin'), body);
    const back = join(work, 'tls-back.bin');
    const r = await curl([...NOPROXY, '--ssl-reqd', '--insecure', '--user', `${USER}:${PASS}`, '-o', back, url('v2', '/tls.bin')]);
    expectSuccess(r);
    expect(sha256(await readFile(back))).toBe(sha256(body));
  });

  it('curl, implicit FTPS over v2 (header before the TLS handshake)', async () => {
    await writeFile(join(t.root, 'implicit.txt'), 'hello\n');
    const r = await curl([...NOPROXY, '--insecure', '--user', `${USER}:${PASS}`, `ftps://127.0.0.1:${proxy.ports.implicit}/implicit.txt`]);
    expectSuccess(r);
    expect(r.stdout).toBe('hello\n');
  });

  it('curl, active mode (EPRT to the real client) over v1', async () => {
    await writeFile(join(t.root, 'active.txt'), 'active\n');
    const r = await curl([...NOPROXY, '--ftp-port', CLIENT, '--user', `${USER}:${PASS}`, url('v1', '/active.txt')]);
    expectSuccess(r);
    expect(r.stdout).toBe('active\n');
  });

  it('lftp, explicit FTPS with protected data over v2 (put and get)', async () => {
    const body = randomBytes(500_000);
    const local = join(work, 'lftp.bin');
    const back = join(work, 'lftp-back.bin');
    await writeFile(local, body);
    const r = await lftp(
      [
        'set ftp:ssl-force yes',
        'set ftp:ssl-protect-data yes',
        'set ftp:passive-mode yes',
        `set net:socket-bind-ipv4 ${CLIENT}`,
        `open -u ${USER},${PASS} ftp://127.0.0.1:${proxy.ports.v2}`,
        `put ${q(local)} -o lftp.bin`,
        `get lftp.bin -o ${q(back)}`,
      ].join('; '),
    );
    expectSuccess(r);
    expect(sha256(await readFile(join(t.root, 'lftp.bin')))).toBe(sha256(body));
    expect(sha256(await readFile(back))).toBe(sha256(body));
    await until(() => uploads.some((u) => u.path === '/lftp.bin'), 'the upload event');
    expect(uploads.find((u) => u.path === '/lftp.bin')?.remoteAddress).toBe(CLIENT);
  });

  it('a client that skips HAProxy cannot claim an address: ftpsd trusts only the proxy', async () => {
    const c = await RawClient.connect(t.port, '127.0.0.1', { localAddress: CLIENT });
    c.write('PROXY TCP4 192.0.2.1 127.0.0.1 1234 21\r\n');
    expect(await c.waitClosed()).toBe(true);
    expect(log.find(/not a trusted proxy/).some((l) => l.peer === CLIENT)).toBe(true);
  });
});
