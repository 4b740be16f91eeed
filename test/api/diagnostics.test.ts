/**
 * Tracing through node:diagnostics_channel: `ftpsd:command`, `ftpsd:transfer` and `ftpsd:session`
 * tracing channels with start/end/asyncStart/asyncEnd, contexts that carry the outcome, passwords never
 * in them; nothing is built while nobody subscribes.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { traceCommand, traceSession, traceTransfer } from '../../src/diagnostics.js';
import { CHANNELS, createServer, MemoryStorage, type CommandTrace, type FtpsdServer, type SessionTrace, type TransferTrace } from '../../src/index.js';
import { connect } from './helpers.js';

type Phase = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';

function subscribe<T extends object>(name: string): { events: { phase: Phase; ctx: T; snapshot: T }[]; stop: () => void } {
  const channel = diagnosticsChannel.tracingChannel(name);
  const events: { phase: Phase; ctx: T; snapshot: T }[] = [];
  const handler = (phase: Phase) => (ctx: unknown) => events.push({ phase, ctx: ctx as T, snapshot: { ...(ctx as T) } });
  const handlers = { start: handler('start'), end: handler('end'), asyncStart: handler('asyncStart'), asyncEnd: handler('asyncEnd'), error: handler('error') };
  channel.subscribe(handlers);
  return { events, stop: () => channel.unsubscribe(handlers) };
}

let server: FtpsdServer | undefined;
const stops: (() => void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await server?.close();
  server = undefined;
});

async function session(): Promise<void> {
  server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', users: [{ name: 'alice', password: 'secret' }], storage: new MemoryStorage({ 'f.txt': 'hello' }) });
  await server.listen();
  const client = await connect(server, 'alice', 'secret', { secure: false });
  await client.list();
  await client.downloadTo(new Writable({ write: (_c, _e, cb) => cb() }), 'f.txt');
  await client.uploadFrom(Readable.from([Buffer.from('abc')]), 'up.txt');
  await client.send('PWD');
  client.close();
  await once(server, 'disconnect');
  // The session span ends once the connection's loop is done, right after its disconnect event.
  await new Promise((r) => setImmediate(r));
}

describe('diagnostics_channel tracing', () => {
  it('the channel names', () => {
    expect(CHANNELS).toEqual({ command: 'ftpsd:command', transfer: 'ftpsd:transfer', session: 'ftpsd:session' });
  });

  it('ftpsd:command: a span per command line, with the verb, the argument (never PASS) and the reply code', async () => {
    const sub = subscribe<CommandTrace>(CHANNELS.command);
    stops.push(sub.stop);
    await session();
    const starts = sub.events.filter((e) => e.phase === 'start').map((e) => e.snapshot);
    const ends = sub.events.filter((e) => e.phase === 'asyncEnd').map((e) => e.snapshot);
    expect(starts.length).toBe(ends.length);
    const byVerb = (verb: string) => ends.find((e) => e.verb === verb)!;
    expect(starts.find((e) => e.verb === 'USER')).toMatchObject({ arg: 'alice', user: undefined, remoteAddress: '127.0.0.1' });
    expect(byVerb('PASS')).toMatchObject({ arg: undefined, code: 230 });
    expect(JSON.stringify(sub.events.map((e) => e.snapshot))).not.toContain('secret');
    expect(byVerb('PWD')).toMatchObject({ user: 'alice', code: 257 });
    expect(byVerb('RETR')).toMatchObject({ arg: 'f.txt', code: 226 });
    expect(byVerb('STOR')).toMatchObject({ arg: 'up.txt', code: 226 });
    expect(new Set(ends.map((e) => e.sessionId)).size).toBe(1);
    // start and end are published in that order for each span, end right after the call, asyncEnd when done.
    const first = sub.events.filter((e) => e.ctx === sub.events[0]!.ctx).map((e) => e.phase);
    expect(first).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
  });

  it('ftpsd:transfer: a span per transfer, with direction, path, bytes and outcome', async () => {
    const sub = subscribe<TransferTrace>(CHANNELS.transfer);
    stops.push(sub.stop);
    await session();
    const ends = sub.events.filter((e) => e.phase === 'asyncEnd').map((e) => e.snapshot);
    expect(ends.map(({ sessionId: _id, ...rest }) => rest)).toEqual([
      { remoteAddress: '127.0.0.1', user: 'alice', direction: 'download', protected: false, path: undefined, bytes: expect.any(Number), code: 226, ok: true, result: 226 },
      { remoteAddress: '127.0.0.1', user: 'alice', direction: 'download', protected: false, path: '/f.txt', bytes: 5, code: 226, ok: true, result: 226 },
      { remoteAddress: '127.0.0.1', user: 'alice', direction: 'upload', protected: false, path: '/up.txt', bytes: 3, code: 226, ok: true, result: 226 },
    ]);
    const starts = sub.events.filter((e) => e.phase === 'start').map((e) => e.snapshot);
    expect(starts.map((s) => s.bytes)).toEqual([undefined, undefined, undefined]);
  });

  it('ftpsd:session: one span from accept to close, with the user at the end', async () => {
    const sub = subscribe<SessionTrace>(CHANNELS.session);
    stops.push(sub.stop);
    await session();
    expect(sub.events.map((e) => e.phase)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd']);
    expect(sub.events[0]!.snapshot).toEqual({ sessionId: expect.any(String), remoteAddress: '127.0.0.1', implicit: false });
    expect(sub.events[3]!.snapshot).toMatchObject({ user: 'alice' });
  });

  it('nothing is built or published while nobody subscribes', async () => {
    let built = 0;
    const context = () => {
      built++;
      return { sessionId: 's', remoteAddress: 'a', user: undefined, verb: 'X', arg: undefined } satisfies CommandTrace;
    };
    expect(await traceCommand(context, async () => 1, () => 200)).toBe(1);
    expect(await traceTransfer(() => ({ sessionId: 's', remoteAddress: 'a', user: undefined, direction: 'upload', protected: false }), async (ctx) => ctx)).toBeUndefined();
    await traceSession(() => ({ sessionId: 's', remoteAddress: 'a', implicit: false }), async () => {}, () => 'u');
    expect(built).toBe(0);
    const sub = subscribe<CommandTrace>(CHANNELS.command);
    await traceCommand(context, async () => 1, () => 200);
    expect(built).toBe(1);
    expect(sub.events.at(-1)!.snapshot.code).toBe(200);
    sub.stop();
    await traceCommand(context, async () => 1, () => 200);
    expect(built).toBe(1);
  });

  it('a failing span publishes error', async () => {
    const sub = subscribe<CommandTrace>(CHANNELS.command);
    stops.push(sub.stop);
    const ctx = () => ({ sessionId: 's', remoteAddress: 'a', user: undefined, verb: 'X', arg: undefined });
    await expect(traceCommand(ctx, () => Promise.reject(new Error('no')), () => undefined)).rejects.toThrow('no');
    expect(sub.events.map((e) => e.phase)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
  });
});
