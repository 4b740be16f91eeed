/**
 * The ordering process in-process (src/acme/service.ts) against Pebble: tls-alpn-01; a challenge that
 * fails because the responder is stopped keeps the certificate in service, logs the CA's problem as a
 * clear line, and retries (with backoff) until it works again. Plus the pure parts: when to renew,
 * problem documents to sentences (rate limit with its retry time).
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpChallengeResponder } from '../../src/acme/http-responder.js';
import { prepareAcme, type AcmeService } from '../../src/acme/service.js';
import { explain, problemOf } from '../../src/acme/problem.js';
import { AcmeRenewer, renewalTime } from '../../src/acme/renewer.js';
import { AcmeError } from '../../src/acme/problem.js';
import { ACME_DEFAULTS, type AcmeSettings } from '../../src/acme/settings.js';
import type { StoredCertificate } from '../../src/acme/store.js';
import { captureLog } from '../helpers/log-capture.js';
import { until } from '../helpers/poll.js';
import { removeTempDirs, tempDir } from '../helpers/temp-dirs.js';
import { freePort } from '../ops/service-helpers.js';
import { pebbleInstalled, startPebble, type Pebble } from '../services/pebble.js';

const NAME = 'ftp.example.test';

afterAll(removeTempDirs);

describe.skipIf(!pebbleInstalled())('ACME service with Pebble', () => {
  let pebble: Pebble;
  let httpPort: number;
  let tlsPort: number;
  const services: AcmeService[] = [];
  beforeAll(async () => {
    [httpPort, tlsPort] = [await freePort(), await freePort()];
    pebble = await startPebble({ httpPort, tlsPort, validitySeconds: 24 });
  }, 30_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
    await pebble?.stop();
  });

  const settings = (challenge: AcmeSettings['challenge']): AcmeSettings => ({
    domains: [NAME, 'www.example.test'],
    directory: pebble.directory,
    caBundle: pebble.caBundle,
    challenge,
    httpListen: { host: '127.0.0.1', port: httpPort },
    tlsAlpnListen: { host: '127.0.0.1', port: tlsPort },
    renewDays: ACME_DEFAULTS.renewDays,
  });

  it('tls-alpn-01: the acme-tls/1 responder proves the names', async () => {
    const log = captureLog('info');
    const installed: StoredCertificate[] = [];
    const svc = await prepareAcme({ settings: settings('tls-alpn-01'), stateDir: await tempDir(), log: log.logger, install: (s) => void installed.push(s) });
    services.push(svc);
    expect(svc.stored).toBeUndefined();
    svc.start();
    await until(() => installed.length > 0, 'a certificate by tls-alpn-01', 30_000);
    expect(installed[0]!.names.sort()).toEqual([NAME, 'www.example.test']);
    expect(log.find(/answered a tls-alpn-01 challenge/).length).toBeGreaterThan(0);
    expect(new X509Certificate(installed[0]!.cert).issuer).toMatch(/Pebble/);
    await svc.close();
  }, 40_000);

  it('a failing challenge (responder stopped) keeps the certificate in service and retries', async () => {
    const log = captureLog('info');
    const installed: StoredCertificate[] = [];
    const svc = await prepareAcme({ settings: settings('http-01'), stateDir: await tempDir(), log: log.logger, install: (s) => void installed.push(s), retryMs: 500 });
    services.push(svc);
    svc.start();
    await until(() => installed.length === 1, 'the first certificate', 30_000);
    // The responder goes away before the renewal (a third into the 24 s life).
    await svc.http!.close();
    await until(() => log.find(/keeping the current certificate/).length >= 2, 'two failed renewals', 40_000);
    expect(installed).toHaveLength(1);
    const failure = log.find(/keeping the current certificate/)[0]!;
    expect(String(failure.msg)).toMatch(/http-01 challenge for (ftp|www)\.example\.test: the CA could not check (ftp|www)\.example\.test on port 80 \(urn:ietf:params:acme:error:connection: .*\); port 80 of each name must reach ftpsd's http-01 responder on 127\.0\.0\.1:\d+/);
    expect(failure.retryAt).toBeDefined();
    // The responder comes back: the next retry succeeds.
    await svc.http!.listen('127.0.0.1', httpPort);
    await until(() => installed.length === 2, 'the renewal after the responder came back', 30_000);
    expect(installed[1]!.fingerprint256).not.toBe(installed[0]!.fingerprint256);
    await svc.close();
  }, 90_000);
});

describe.skipIf(!pebbleInstalled())('ACME service with Pebble: a name that does not resolve', () => {
  it('says the CA cannot resolve it, and keeps retrying', async () => {
    const [httpPort, tlsPort] = [await freePort(), await freePort()];
    const pebble = await startPebble({ httpPort, tlsPort });
    const log = captureLog('info');
    let svc: AcmeService | undefined;
    try {
      await pebble.setDefaultIPv4('');
      svc = await prepareAcme({
        settings: { domains: [NAME], directory: pebble.directory, caBundle: pebble.caBundle, challenge: 'http-01', httpListen: { host: '127.0.0.1', port: httpPort }, renewDays: 30 },
        stateDir: await tempDir(),
        log: log.logger,
        install: () => {},
        retryMs: 60_000,
      });
      svc.start();
      await until(() => log.find(/serving the self-signed certificate meanwhile/).length > 0, 'the failed order', 30_000);
      const line = String(log.find(/serving the self-signed certificate meanwhile/)[0]!.msg);
      expect(line).toMatch(/^acme: http-01 challenge for ftp\.example\.test: the CA cannot resolve ftp\.example\.test \(urn:ietf:params:acme:error:(dns|connection): .*\); each name needs a DNS record pointing to this server; serving the self-signed certificate meanwhile; retrying at \d{4}-/);
      // And this machine could not resolve it either: a warning before the order.
      expect(log.find(/ftp\.example\.test does not resolve from here/).length).toBeGreaterThan(0);
    } finally {
      await svc?.close();
      await pebble.stop();
    }
  }, 60_000);
});

describe('the http-01 responder', () => {
  it('answers only a known token under /.well-known/acme-challenge/, 404 otherwise', async () => {
    const responder = new HttpChallengeResponder(captureLog('info').logger);
    const { port } = await responder.listen('127.0.0.1', 0);
    try {
      responder.set('tok_en-1', 'tok_en-1.thumbprint');
      const get = async (path: string, method = 'GET') => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(5000) });
        return [r.status, await r.text()] as const;
      };
      expect(await get('/.well-known/acme-challenge/tok_en-1')).toEqual([200, 'tok_en-1.thumbprint']);
      expect((await get('/.well-known/acme-challenge/other'))[0]).toBe(404);
      expect((await get('/.well-known/acme-challenge/../../etc/passwd'))[0]).toBe(404);
      expect((await get('/'))[0]).toBe(404);
      expect((await get('/.well-known/acme-challenge/tok_en-1', 'POST'))[0]).toBe(404);
      responder.remove('tok_en-1');
      expect((await get('/.well-known/acme-challenge/tok_en-1'))[0]).toBe(404);
    } finally {
      await responder.close();
    }
  });
});

describe('renewal time and problem documents', () => {
  it('renews renewDays before expiry, but never in the first third of the life', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    const to = new Date('2026-04-01T00:00:00Z'); // 90 days
    expect(renewalTime(from, to, 30).toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(renewalTime(from, to, 80).toISOString()).toBe('2026-01-31T00:00:00.000Z');
    const short = new Date('2026-01-07T00:00:00Z'); // 6 days
    expect(renewalTime(from, short, 30).toISOString()).toBe('2026-01-03T00:00:00.000Z');
  });

  it('a failed order is retried with backoff and jitter, never before the retry time of a rate limit', async () => {
    const log = captureLog('info');
    const now = Date.parse('2026-12-07T10:00:00Z');
    const retryAfter = new Date(now + 3 * 3_600_000);
    /** The delay a renewer with no certificate picks after its first order fails with `error`. */
    const delayAfter = async (error: AcmeError, random = 1): Promise<number> => {
      const r = new AcmeRenewer({ renewDays: 30, log: log.logger, order: () => Promise.reject(error), store: async () => {}, install: () => {}, retryMs: 60_000, now: () => now, random: () => random });
      r.start(undefined); // no certificate: order at once
      // start() schedules the order at `now`; the failure moves the next attempt later.
      await until(() => r.nextAttempt!.getTime() !== now, 'the failed attempt', 5000);
      r.close();
      return r.nextAttempt!.getTime() - now;
    };
    // Jitter: between half and all of the backoff (60 s after the first failure).
    expect(await delayAfter(new AcmeError('acme: x: boom'), 0)).toBe(30_000);
    expect(await delayAfter(new AcmeError('acme: x: boom'), 1)).toBe(60_000);
    // A rate limit's time wins over a shorter backoff.
    expect(await delayAfter(new AcmeError('acme: new order: rate limited', undefined, retryAfter))).toBe(3 * 3_600_000);
    expect(log.find(/serving the self-signed certificate meanwhile; retrying at/)).toHaveLength(3);
  });

  it('a rate limit names the CA problem and when to retry', () => {
    const now = Date.parse('2026-12-07T10:00:00Z');
    const problem = problemOf({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates (5) already issued for this exact set of identifiers' }, '3600');
    expect(problem?.retryAfter?.getTime()).toBeGreaterThan(now);
    const err = explain(new Error('x'), problem, { step: 'new order', names: [NAME], challenge: 'http-01', responder: '[::]:80', directory: 'https://ca.test/dir' });
    expect(err.message).toMatch(/^acme: new order: rate limited by the CA \(urn:ietf:params:acme:error:rateLimited: too many certificates .*\); retry after \d{4}-/);
    expect(err.retryAfter).toEqual(problem!.retryAfter);
  });

  it('a name the CA cannot resolve, and a CA that cannot be reached, are said so', () => {
    const dns = explain(new Error('x'), problemOf({ error: { type: 'urn:ietf:params:acme:error:dns', detail: 'NXDOMAIN looking up A for ftp.example.test' } }), { step: 'http-01 challenge for ftp.example.test', names: [NAME], challenge: 'http-01', responder: '[::]:80', directory: 'https://ca.test/dir' });
    expect(dns.message).toContain('the CA cannot resolve ftp.example.test');
    const down = explain(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), undefined, { step: 'account', names: [NAME], challenge: 'http-01', responder: '[::]:80', directory: 'https://127.0.0.1:1/dir' });
    expect(down.message).toBe('acme: account: cannot reach the CA at https://127.0.0.1:1/dir (ECONNREFUSED)');
  });
});

