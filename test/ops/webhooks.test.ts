/**
 * Webhooks: each event POSTed as JSON, retries of a 5xx with the same delivery id, 4xx not retried,
 * timeouts, the bounded queue (drops counted), and the drain at shutdown.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Automation } from '../../src/ops/automation.js';
import { download, loggedIn, upload } from '../helpers/flows.js';
import { PASS, USER } from '../helpers/server.js';
import { event, receiver, runCleanups, serverWith } from './automation-helpers.js';
import { eventually, sessionsGone } from './helpers.js';
afterEach(runCleanups);

describe('webhooks', () => {
  it('POST each event as JSON, retrying a 5xx with the same delivery id', async () => {
    const r = await receiver((n) => (n === 1 ? 503 : 200));
    const { t, automation } = await serverWith({ webhooks: [`${r.url.replace('http://', 'http://hook%20user:s3cr%3At@')}/ftpsd?x=1`], delivery: { retryDelayMs: 10, concurrency: 1 } });
    const c = await loggedIn(t, { binary: true });
    await upload(c, 'STOR w.bin', Buffer.alloc(1234));
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    await automation.queue.idle();
    // A retry waits its delay while later events go ahead: deliveries are not ordered.
    const events = r.received.map((x) => x.body.event);
    expect([...events].sort()).toEqual(['login', 'login', 'logout', 'upload']);
    const [first, retry] = r.received.filter((x) => x.body.event === 'login');
    const up = r.received.find((x) => x.body.event === 'upload');
    expect(r.received[0]!.body.event).toBe('login');
    expect(first!.headers['x-ftpsd-delivery']).toBe(retry!.headers['x-ftpsd-delivery']);
    expect(first!.body).toEqual(retry!.body);
    expect(up!.headers['x-ftpsd-delivery']).not.toBe(first!.headers['x-ftpsd-delivery']);
    expect(up!.url).toBe('/ftpsd?x=1');
    expect(up!.headers['content-type']).toBe('application/json');
    expect(up!.headers['x-ftpsd-event']).toBe('upload');
    expect(up!.headers.authorization).toBe('Basic ' + Buffer.from('hook user:s3cr:t').toString('base64'));
    expect(up!.body).toMatchObject({ event: 'upload', user: USER, peer: '127.0.0.1', path: '/w.bin', bytes: 1234, secure: false });
    expect(up!.body.session).toBe(first!.body.session);
    expect(typeof up!.body.durationMs).toBe('number');
    expect(new Date(up!.body.time).getTime()).not.toBeNaN();
    expect(JSON.stringify(r.received.map((x) => x.body))).not.toContain(PASS);
  });

  it('send only the events a webhook asks for', async () => {
    const r = await receiver();
    const { t, automation } = await serverWith({ webhooks: [{ url: r.url, events: ['delete', 'rename'] }] });
    const c = await loggedIn(t);
    await upload(c, 'STOR f.txt', 'x');
    await c.expectCmd('DELE f.txt', 250);
    await c.expectCmd('QUIT', 221);
    await sessionsGone(t.server);
    await automation.queue.idle();
    expect(r.received.map((x) => x.body)).toEqual([expect.objectContaining({ event: 'delete', path: '/f.txt', directory: false })]);
  });

  it('do not retry a 4xx answer', async () => {
    const r = await receiver(() => 400);
    const automation = new Automation({ webhooks: [r.url], delivery: { retries: 3, retryDelayMs: 1 } });
    const failed = new Promise<{ attempts: number; error: string }>((resolve) => automation.queue.once('failed', (_d, x) => resolve(x)));
    automation.dispatch(event('login'));
    expect(await failed).toEqual({ attempts: 1, error: 'HTTP 400' });
    expect(r.received).toHaveLength(1);
    await automation.close(0);
  });

  it('time out an attempt that gets no answer, and retry it', async () => {
    const r = await receiver((n) => 200 + n);
    r.hold = true;
    const automation = new Automation({ webhooks: [r.url], delivery: { retries: 1, retryDelayMs: 1, timeoutMs: 200 } });
    const retried = new Promise<string>((resolve) => automation.queue.once('retry', (_d, x) => resolve(x.error)));
    automation.dispatch(event('login'));
    expect(await retried).toBe('timed out after 200 ms');
    r.hold = false;
    await automation.queue.idle();
    expect(r.received).toHaveLength(2);
    await automation.close(0);
  });

  it('drop deliveries when the queue is full, and count them', async () => {
    const r = await receiver();
    r.hold = true;
    const automation = new Automation({ webhooks: [r.url], delivery: { queueSize: 2, concurrency: 1 } });
    let dropped = 0;
    automation.queue.on('dropped', () => dropped++);
    for (let i = 0; i < 5; i++) automation.dispatch(event('upload', { path: `/${i}` }));
    // One running, two waiting, two dropped: pushing never waits.
    expect(dropped).toBe(2);
    expect(automation.queue.pending).toBe(2);
    await eventually(() => r.held.length === 1, 10_000, 'the first request');
    r.hold = false;
    for (const res of r.held.splice(0)) res.writeHead(200).end();
    await automation.queue.idle();
    expect(r.received.map((x) => x.body.path)).toEqual(['/0', '/1', '/2']);
    await automation.close(0);
  });

  it('drain at shutdown: finish what is queued, abandon what is left at the deadline', async () => {
    const r = await receiver();
    const automation = new Automation({ webhooks: [r.url], delivery: { concurrency: 1, retryDelayMs: 60_000 } });
    for (let i = 0; i < 3; i++) automation.dispatch(event('upload', { path: `/${i}` }));
    expect(await automation.close(10_000)).toBe(0);
    expect(r.received).toHaveLength(3);

    const slow = await receiver();
    slow.hold = true;
    const late = new Automation({ webhooks: [slow.url], delivery: { concurrency: 1 } });
    let failed = 0;
    late.queue.on('failed', () => failed++);
    late.dispatch(event('upload'));
    late.dispatch(event('download'));
    expect(await late.close(200)).toBe(2);
    expect(failed).toBe(2);
    // After the drain nothing more is taken.
    late.dispatch(event('login'));
    expect(late.queue.pending).toBe(0);
  });

  it('refuse URLs that are not http(s)', () => {
    expect(() => new Automation({ webhooks: ['ftp://example.test/'] })).toThrow(/http/);
    expect(() => new Automation({ webhooks: ['not a url'] })).toThrow(/http/);
    expect(() => new Automation({ webhooks: [{ url: 'https://example.test/', events: ['nope' as never] }] })).toThrow(/unknown event/);
  });
});
