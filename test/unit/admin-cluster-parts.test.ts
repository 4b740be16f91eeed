/**
 * Parts of the admin console's cluster and Host work: the Host header parsing and the names allowed
 * (DNS-rebinding defence), requests to workers that resolve without the silent ones, and several
 * session sources behind one (the seam for other nodes' sessions).
 */
import { describe, expect, it } from 'vitest';
import { generateSelfSigned } from '../../src/tls/self-signed.js';
import { HostCheck, hostOf } from '../../src/admin/host-check.js';
import { AdminRequests } from '../../src/cluster/admin-requests.js';
import { combineSources, type SessionInfo, type SessionSource } from '../../src/runtime/session-directory.js';
import { sessionId, setSessionIdPrefix } from '../../src/session-id.js';

describe('Host header check', () => {
  it('parses the host part', () => {
    expect(hostOf('Example.ORG:9443')).toBe('example.org');
    expect(hostOf('example.org.')).toBe('example.org');
    expect(hostOf('[::1]:9443')).toBe('::1');
    expect(hostOf('[::1')).toBeUndefined();
    expect(hostOf('a:b:c')).toBeUndefined();
    expect(hostOf('')).toBeUndefined();
    expect(hostOf(undefined)).toBeUndefined();
  });

  it('allows loopback, the listen address, the certificate names (one label per wildcard) and admin.hosts only', async () => {
    const pair = await generateSelfSigned({ names: ['ftp.example.com', '*.admin.example.com', '192.0.2.10'] });
    const extra: string[] = [];
    const check = new HostCheck({ listen: '198.51.100.7', certificate: () => pair.cert, extra: () => extra });
    for (const ok of ['localhost', '127.0.0.1', '127.9.9.9', '::1', '198.51.100.7', 'ftp.example.com', 'a.admin.example.com', '192.0.2.10']) expect(check.allows(ok), ok).toBe(true);
    for (const no of ['attacker.example', 'a.b.admin.example.com', 'admin.example.com', 'ftp.example.com.attacker.example', '192.0.2.11', undefined]) expect(check.allows(no), String(no)).toBe(false);
    extra.push('proxy.example');
    expect(check.allows('proxy.example')).toBe(true);
    expect(new HostCheck({ listen: '198.51.100.7', certificate: () => undefined, extra: () => [] }).allows('ftp.example.com')).toBe(false);
  });

  it('reads the host of an Origin', () => {
    expect(HostCheck.originHost('https://Attacker.example:8443')).toBe('attacker.example');
    expect(HostCheck.originHost('null')).toBeUndefined();
  });
});

describe('requests to the workers', () => {
  it('resolves with the answers it got once the timeout passes, without the silent worker', async () => {
    const sent: number[] = [];
    let last = 0;
    const requests = new AdminRequests((worker, m) => {
      sent.push(worker);
      if (m.type === 'admin') last = m.id;
      return worker !== 3; // worker 3 cannot be reached at all
    });
    const asked = requests.ask([1, 2, 3], { kind: 'sessions' }, 200);
    requests.answer(1, last, ['one']);
    requests.answer(1, last, ['again']); // a second answer is dropped
    const started = Date.now();
    const answers = await asked;
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(sent).toEqual([1, 2, 3]);
    expect([...answers]).toEqual([[1, ['one']]]);
    requests.answer(2, last, ['late']); // after the timeout: ignored
  });

  it('resolves at once when every worker answered, or none could be reached', async () => {
    let id = 0;
    const requests = new AdminRequests((_w, m) => ((id = m.type === 'admin' ? m.id : id), true));
    const asked = requests.ask([1], { kind: 'reload', reason: 'test' }, 60_000);
    requests.answer(1, id, { ok: true });
    expect([...(await asked)]).toEqual([[1, { ok: true }]]);
    expect((await new AdminRequests(() => false).ask([1, 2], { kind: 'sessions' }, 60_000)).size).toBe(0);
  });
});

describe('session sources', () => {
  const info = (id: string): SessionInfo => ({ id, user: null, peer: '127.0.0.1', since: new Date(0).toISOString(), tls: { control: false, dataProtection: 'clear', implicit: false }, cwd: '/', bytes: { sent: 0, received: 0 }, transfer: null });
  const source = (ids: string[], unavailable: string[] = []): SessionSource & { ended: string[] } => {
    const ended: string[] = [];
    return {
      ended,
      list: async () => ({ sessions: ids.map(info), unavailable }),
      end: async (id) => (unavailable.length ? 'unavailable' : ids.includes(id) ? (ended.push(id), 'ended') : 'not-found'),
      onChange: () => () => undefined,
    };
  };

  it('merges lists and ends a session where it is', async () => {
    const a = source(['1.aaaa']);
    const b = source(['node-b:xyz'], ['node b']);
    const c = source(['2.cccc']);
    const all = combineSources([a, b, c]);
    expect(await all.list()).toEqual({ sessions: [info('1.aaaa'), info('node-b:xyz'), info('2.cccc')], unavailable: ['node b'] });
    expect(await all.end('2.cccc', 'bye')).toBe('ended');
    expect(c.ended).toEqual(['2.cccc']);
    expect(await all.end('nope', 'bye')).toBe('unavailable');
    expect(await combineSources([a, c]).end('nope', 'bye')).toBe('not-found');
  });
});

describe('session ids', () => {
  it('start with the prefix a cluster worker sets', () => {
    expect(sessionId()).toMatch(/^[A-Za-z0-9_-]{8}$/);
    setSessionIdPrefix('2.');
    try {
      expect(sessionId()).toMatch(/^2\.[A-Za-z0-9_-]{8}$/);
    } finally {
      setSessionIdPrefix('');
    }
  });
});
