/**
 * The pure parts of cluster mode: passive port slices (disjoint, covering, offsets of the advertised
 * range kept), the view of the other workers' sessions, the `workers` setting, and imposed bans.
 */
import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../../src/auth/throttle.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterFields, workerCount } from '../../src/config/cluster-schema.js';
import { cgroupCpuLimit } from '../../src/config/cpu-quota.js';
import { PeerSessionCounts, snapshotOf } from '../../src/cluster/peer-sessions.js';
import { portSlice, workerPassivePorts } from '../../src/cluster/port-slices.js';
import { checkedSnapshot } from '../../src/cluster/messages.js';

describe('passive port slices', () => {
  it('splits a range into disjoint slices that cover it, the first ones one port larger', () => {
    for (const [min, max, n] of [[50000, 50099, 4], [50000, 50009, 3], [1024, 1024, 1], [40000, 40006, 7], [30000, 30100, 16]] as const) {
      const slices = Array.from({ length: n }, (_, i) => portSlice({ min, max }, i, n));
      expect(slices[0]!.min).toBe(min);
      expect(slices[n - 1]!.max).toBe(max);
      for (let i = 1; i < n; i++) expect(slices[i]!.min).toBe(slices[i - 1]!.max + 1);
      const sizes = slices.map((s) => s.max - s.min + 1);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
    }
    expect(portSlice({ min: 50000, max: 50099 }, 1, 4)).toEqual({ min: 50025, max: 50049 });
  });

  it('refuses a range with fewer ports than workers, and a bad index', () => {
    expect(() => portSlice({ min: 40000, max: 40000 }, 0, 2)).toThrow('has 1 port, fewer than the 2 workers');
    expect(() => portSlice({ min: 40000, max: 40009 }, 2, 2)).toThrow(RangeError);
    expect(() => portSlice({ min: 40000, max: 40009 }, 0, 0)).toThrow(RangeError);
  });

  it('maps the advertised range with the same offsets; no range stays no range', () => {
    const ports = { pasvPorts: { min: 50000, max: 50099 }, pasvAdvertisedPorts: { min: 30000, max: 30099 } };
    expect(workerPassivePorts(ports, 2, 4)).toEqual({ pasvPorts: { min: 50050, max: 50074 }, pasvAdvertisedPorts: { min: 30050, max: 30074 } });
    expect(workerPassivePorts({ pasvPorts: { min: 50000, max: 50099 }, pasvAdvertisedPorts: undefined }, 3, 4)).toEqual({
      pasvPorts: { min: 50075, max: 50099 },
      pasvAdvertisedPorts: undefined,
    });
    expect(workerPassivePorts({ pasvPorts: undefined, pasvAdvertisedPorts: undefined }, 0, 2)).toEqual({ pasvPorts: undefined, pasvAdvertisedPorts: undefined });
  });
});

describe('the other workers\' sessions', () => {
  it('sums the latest snapshot of each worker; an empty one removes a worker', () => {
    const peers = new PeerSessionCounts();
    const conns = (list: [string, string | undefined][]) => list.map(([remoteAddress, user]) => ({ remoteAddress, session: { user: user === undefined ? undefined : { name: user } } }));
    peers.set(1, snapshotOf(conns([['10.0.0.1', 'alice'], ['10.0.0.1', undefined], ['10.0.0.2', 'bob']])));
    peers.set(2, snapshotOf(conns([['10.0.0.1', 'alice']])));
    expect(peers.sessions).toBe(4);
    expect(peers.sessionsFrom('10.0.0.1')).toBe(3);
    expect(peers.sessionsFrom('10.0.0.9')).toBe(0);
    expect(peers.userSessions('alice')).toBe(2);
    peers.set(1, snapshotOf(conns([['10.0.0.2', 'bob']])));
    expect(peers.sessions).toBe(2);
    peers.set(2, checkedSnapshot({ sessions: 0, addresses: [], users: [] }));
    expect([peers.sessions, peers.sessionsFrom('10.0.0.1'), peers.userSessions('bob')]).toEqual([1, 0, 1]);
  });

  it('takes a malformed snapshot from the channel as empty, and drops malformed pairs', () => {
    expect(checkedSnapshot(null)).toEqual({ sessions: 0, addresses: [], users: [] });
    expect(checkedSnapshot({ sessions: '3' })).toEqual({ sessions: 0, addresses: [], users: [] });
    expect(checkedSnapshot({ sessions: 2, addresses: [['a', 1], ['b'], 7], users: [[1, 2]] })).toEqual({ sessions: 2, addresses: [['a', 1]], users: [] });
  });
});

describe('workers setting', () => {
  it('takes a whole number from 1 to 256 or auto, from a file (number) or text', () => {
    const parse = (v: unknown) => clusterFields.workers.safeParse(v);
    expect(parse(4).data).toBe(4);
    expect(parse(' 2 ').data).toBe(2);
    expect(parse('auto').data).toBe('auto');
    for (const bad of [0, 257, 1.5, '-1', 'many', '', true, null]) {
      expect(parse(bad).error?.issues[0]?.message, String(bad)).toBe('must be a whole number from 1 to 256, or auto');
    }
    expect(workerCount(3)).toBe(3);
    expect(workerCount('auto')).toBeGreaterThanOrEqual(1);
    expect(workerCount(undefined)).toBe(workerCount('auto'));
  });

  it('auto never picks more workers than the passive ports or the cgroup CPU quota allow', () => {
    // The container recipe: 10 passive ports on a 12-core host.
    expect(workerCount('auto', { cores: 12, cpuQuota: undefined, pasvPorts: { min: 30000, max: 30009 } })).toBe(10);
    expect(workerCount('auto', { cores: 12, cpuQuota: 3, pasvPorts: { min: 30000, max: 30009 } })).toBe(3);
    expect(workerCount('auto', { cores: 2, cpuQuota: undefined, pasvPorts: { min: 30000, max: 30009 } })).toBe(2);
    expect(workerCount('auto', { cores: 8, cpuQuota: undefined })).toBe(8);
    expect(workerCount('auto', { cores: 8, cpuQuota: undefined, pasvPorts: { min: 5000, max: 5000 } })).toBe(1);
    // An explicit number is taken as given (a range too small for it is a config error, as before).
    expect(workerCount(12, { cores: 2, cpuQuota: 1, pasvPorts: { min: 30000, max: 30009 } })).toBe(12);
  });

  it('reads the CPU quota from cgroup v2 cpu.max and cgroup v1 cfs files', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ftpsd-cgroup-'));
    try {
      expect(cgroupCpuLimit(root)).toBeUndefined();
      await writeFile(join(root, 'cpu.max'), 'max 100000\n');
      expect(cgroupCpuLimit(root)).toBeUndefined();
      await writeFile(join(root, 'cpu.max'), '200000 100000\n');
      expect(cgroupCpuLimit(root)).toBe(2);
      await writeFile(join(root, 'cpu.max'), '150000 100000\n');
      expect(cgroupCpuLimit(root)).toBe(2);
      await writeFile(join(root, 'cpu.max'), '50000 100000\n');
      expect(cgroupCpuLimit(root)).toBe(1);
      await rm(join(root, 'cpu.max'));
      await mkdir(join(root, 'cpu'));
      await writeFile(join(root, 'cpu', 'cpu.cfs_quota_us'), '300000\n');
      await writeFile(join(root, 'cpu', 'cpu.cfs_period_us'), '100000\n');
      expect(cgroupCpuLimit(root)).toBe(3);
      await writeFile(join(root, 'cpu', 'cpu.cfs_quota_us'), '-1\n');
      expect(cgroupCpuLimit(root)).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('bans imposed from another worker', () => {
  it('ban until the given time, keep a longer ban, ignore one already over', () => {
    let t = 1000;
    const throttle = new LoginThrottle({ failures: 3, windowMs: 60_000, durationMs: 60_000, maxEntries: 10, ipv4Prefix: 32, ipv6Prefix: 64 }, () => t);
    throttle.impose('10.0.0.1', 5000);
    expect(throttle.bannedUntil('10.0.0.1')).toBe(5000);
    throttle.impose('10.0.0.1', 3000);
    expect(throttle.bannedUntil('10.0.0.1')).toBe(5000);
    throttle.impose('10.0.0.2', 500);
    expect(throttle.bannedUntil('10.0.0.2')).toBeUndefined();
    t = 5000;
    expect(throttle.bannedUntil('10.0.0.1')).toBeUndefined();
  });
});
