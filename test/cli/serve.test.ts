/**
 * `ftpsd serve` as a real process: banner with real ports, logins with curl over explicit and implicit
 * FTPS, the generated certificate kept and reused, passwords never printed unless generated, signals.
 */
import { createServer, type AddressInfo } from 'node:net';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Served, assertBuilt, curl, killAll, listExplicit, loopbackArgs, removeTempDirs, run, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

describe('ftpsd serve', () => {
  it('prints a banner with real ports; the printed password logs in over explicit and implicit FTPS', async () => {
    const dir = await tempDir();
    // The default number of workers (auto: one at the start, up to one per core): the banner is printed once, with the shared ports.
    const ftpd = await Served.start(loopbackArgs(dir), { defaultWorkers: true });
    const b = ftpd.banner;
    expect(b.explicit).toEqual([{ host: '127.0.0.1', port: expect.any(Number) }]);
    expect(b.implicit).toEqual([{ host: '127.0.0.1', port: expect.any(Number) }]);
    expect(b.explicit[0]!.port).toBeGreaterThan(0);
    expect(b.implicit[0]!.port).toBeGreaterThan(0);
    expect(b.root).toBe(join(dir, 'root'));
    expect(b.password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(b.user).toMatch(/^ftpsd\s/);
    expect(b.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(b.try).toBe(`curl --ssl-reqd -k -u ftpsd:${b.password} ftp://127.0.0.1:${b.explicit[0]!.port}/`);

    await writeFile(join(dir, 'root', 'hello.txt'), 'hello over FTPS\n');
    const list = await listExplicit(ftpd.port, 'ftpsd', b.password!);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/hello\.txt/);

    const implicit = await curl(['-k', '-u', `ftpsd:${b.password}`, `ftps://127.0.0.1:${b.implicit[0]!.port}/hello.txt`]);
    expect(implicit.code).toBe(0);
    expect(implicit.stdout).toBe('hello over FTPS\n');

    const wrong = await listExplicit(ftpd.port, 'ftpsd', 'not-the-password');
    expect(wrong.code).toBe(67);

    const plain = await curl(['-u', `ftpsd:${b.password}`, `ftp://127.0.0.1:${ftpd.port}/`]);
    expect(plain.code).not.toBe(0); // tlsRequired: login by default

    const end = await ftpd.stop('SIGTERM');
    expect(end.code).toBe(0);
    expect(end.signal).toBeNull();
    expect(end.stdout.match(/^listening: explicit FTPS on /gm)).toHaveLength(1);
  });

  it('generates the certificate once (key mode 0600) and reuses it on the next start', async () => {
    const dir = await tempDir();
    const first = await Served.start(loopbackArgs(dir));
    expect(first.banner.certificate).toBe(`${join(dir, 'state', 'cert.pem')} (self-signed, generated now)`);
    expect((await first.stop()).code).toBe(0);
    const key = await stat(join(dir, 'state', 'key.pem'));
    expect(key.mode & 0o777).toBe(0o600);
    const pem = await readFile(join(dir, 'state', 'cert.pem'), 'utf8');

    const second = await Served.start(loopbackArgs(dir));
    expect(second.banner.fingerprint).toBe(first.banner.fingerprint);
    expect(second.banner.certificate).toMatch(/kept from an earlier run/);
    expect(await readFile(join(dir, 'state', 'cert.pem'), 'utf8')).toBe(pem);
    expect((await second.stop('SIGINT')).code).toBe(0);
  });

  it('keeps the generated password across restarts (its hash in the state dir, 0600); --new-password replaces it', async () => {
    const dir = await tempDir();
    const kept = join(dir, 'state', 'generated-user.json');
    const first = await Served.start(loopbackArgs(dir));
    const password = first.banner.password!;
    expect(password).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(first.banner.user).toContain(`its hash kept in ${kept}`);
    expect((await first.stop()).code).toBe(0);
    expect((await stat(kept)).mode & 0o777).toBe(0o600);
    const file = await readFile(kept, 'utf8');
    expect(file).not.toContain(password);
    expect(JSON.parse(file)).toMatchObject({ name: 'ftpsd', hash: expect.stringMatching(/^\$argon2id\$/) });

    // Restarted (one process, then a cluster of 2): the same password logs in, none is printed.
    for (const workers of ['1', '2']) {
      const again = await Served.start(loopbackArgs(dir), { env: { FTPSD_WORKERS: workers } });
      expect(again.banner.password).toBeUndefined();
      expect(again.banner.user).toBe(`ftpsd   (password generated on an earlier start, its hash kept in ${kept}; a new one with --new-password)`);
      expect((await listExplicit(again.port, 'ftpsd', password)).code).toBe(0);
      expect((await again.stop()).code).toBe(0);
    }

    const renewed = await Served.start([...loopbackArgs(dir), '--new-password']);
    const fresh = renewed.banner.password!;
    expect(fresh).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(fresh).not.toBe(password);
    expect((await listExplicit(renewed.port, 'ftpsd', password)).code).toBe(67);
    expect((await listExplicit(renewed.port, 'ftpsd', fresh)).code).toBe(0);
    expect((await renewed.stop()).code).toBe(0);
  });

  it('FTPSD_PASSWORD sets the password of "ftpsd" and it is never printed', async () => {
    const dir = await tempDir();
    const secret = 'env-Secret-4711';
    const ftpd = await Served.start(loopbackArgs(dir), { env: { FTPSD_PASSWORD: secret } });
    expect(ftpd.banner.password).toBeUndefined();
    expect(ftpd.banner.user).toMatch(/^ftpsd\s+\(password from FTPSD_PASSWORD\)$/);
    expect(ftpd.banner.try).toMatch(/ -u ftpsd ftp:/);
    expect((await listExplicit(ftpd.port, 'ftpsd', secret)).code).toBe(0);
    const end = await ftpd.stop();
    expect(end.code).toBe(0);
    expect(end.stdout + end.stderr).not.toContain(secret);
  });

  it('--user accounts replace "ftpsd"; their passwords are not printed or logged', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start([...loopbackArgs(dir), '--user', 'alice:pw-Alice-1', '--user', 'bob:pw-Bob-2', '--log-level', 'trace']);
    expect(ftpd.banner.user).toBe('alice, bob');
    expect(ftpd.banner.password).toBeUndefined();
    expect((await listExplicit(ftpd.port, 'alice', 'pw-Alice-1')).code).toBe(0);
    expect((await listExplicit(ftpd.port, 'bob', 'pw-Bob-2')).code).toBe(0);
    expect((await listExplicit(ftpd.port, 'ftpsd', 'pw-Alice-1')).code).toBe(67);
    const end = await ftpd.stop();
    expect(end.code).toBe(0);
    expect(end.stdout + end.stderr).not.toMatch(/pw-Alice-1|pw-Bob-2/);
  });

  it('writes JSON log lines at the chosen level', async () => {
    const dir = await tempDir();
    const quiet = await Served.start([...loopbackArgs(dir), '--log-level', 'warn']);
    await listExplicit(quiet.port, 'ftpsd', quiet.banner.password!);
    const q = await quiet.stop();
    // Started as root without runAs, the one warning is that (issue 21).
    const rootWarning = (l: string) => process.geteuid?.() === 0 && (JSON.parse(l) as { msg: string }).msg.startsWith('running as root');
    expect(q.stdout.split('\n').filter((l) => l.startsWith('{') && !rootWarning(l))).toEqual([]);

    const chatty = await Served.start([...loopbackArgs(dir), '--log-level', 'debug']);
    await listExplicit(chatty.port, 'ftpsd', chatty.banner.password!);
    const c = await chatty.stop();
    const logs = c.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(logs.length).toBeGreaterThan(2);
    expect(logs.some((l) => l.msg === 'listening')).toBe(true);
    expect(logs.some((l) => l.msg === 'shutting down')).toBe(true);
    const jsonText = logs.map((l) => JSON.stringify(l)).join('\n');
    expect(jsonText).not.toContain(chatty.banner.password!);
  });

  it('--anonymous allows read-only anonymous logins', async () => {
    const dir = await tempDir();
    const ftpd = await Served.start([...loopbackArgs(dir), '--anonymous']);
    await writeFile(join(dir, 'root', 'pub.txt'), 'public\n');
    expect((await listExplicit(ftpd.port, 'anonymous', 'guest@example.com')).stdout).toMatch(/pub\.txt/);
    const upload = await curl(['--ssl-reqd', '-k', '-u', 'anonymous:x', '-T', '-', `ftp://127.0.0.1:${ftpd.port}/new.txt`]);
    expect(upload.code).not.toBe(0);
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('a port in use exits 1 with one line naming the address', async () => {
    const dir = await tempDir();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen({ host: '127.0.0.1', port: 0 }, r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await run([...loopbackArgs(dir), '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: cannot listen on 127.0.0.1:${port}: address already in use\n`);
      // Only that line: no 'listener error' log line with a stack before it.
      expect(r.stdout).not.toMatch(/listener error|EADDRINUSE|\bat .*\.js:\d+/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
