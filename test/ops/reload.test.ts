/**
 * Config reload in `ftpsd serve` (a real process): SIGHUP, and `watchConfig`, under load. Uploads and
 * downloads in the middle of their data, idle sessions (logged in, not logged in, over TLS) all live
 * through a reload that adds and removes users, makes a user read-only, lowers a limit, denies a network,
 * switches the certificate and raises the log level; they finish normally. New logins see the new users
 * (also on connections opened before), new connections the new limits and lists. A broken config is
 * refused with a log line naming every problem, and the running config stays.
 */
import { once } from 'node:events';
import { writeFile, readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { generateSelfSigned, type GeneratedCert } from '../../src/tls/self-signed.js';
import { allBytes } from '../helpers/flows.js';
import { RawClient, readAll, writeAll } from '../helpers/raw-client.js';
import { ChildServer, killChildren, removeTempDirs, tempDir } from '../hardening/child-server.js';

afterEach(killChildren);
afterAll(removeTempDirs);

interface Account {
  name: string;
  hash: string;
  readOnly?: boolean;
}

let hashes: Record<string, string>;
let certA: GeneratedCert;
let certB: GeneratedCert;

beforeAll(async () => {
  hashes = {};
  for (const name of ['alice', 'bob', 'carol', 'dave']) hashes[name] = await hashPassword(`${name}-pw`);
  [certA, certB] = await Promise.all([generateSelfSigned(), generateSelfSigned()]);
});

function configText(o: { users: Account[]; extra?: string[]; cert: string }): string {
  return [
    'listen: ["127.0.0.1:0"]',
    'implicitListen: off',
    'root: root',
    'stateDir: state',
    'tlsRequired: off',
    `tls: {cert: ${o.cert}-cert.pem, key: ${o.cert}-key.pem}`,
    'users:',
    ...o.users.map((u) => `  - {name: ${u.name}, password: "${u.hash}"${u.readOnly ? ', readOnly: true' : ''}}`),
    ...(o.extra ?? []),
    '',
  ].join('\n');
}

async function connectFrom(port: number, source = '127.0.0.1', greeting = true): Promise<RawClient> {
  return RawClient.connect(port, '127.0.0.1', { localAddress: source, greeting });
}

async function logIn(port: number, name: string, source = '127.0.0.1'): Promise<RawClient> {
  const c = await connectFrom(port, source);
  await c.login(name, `${name}-pw`);
  await c.expectCmd('TYPE I', 200);
  return c;
}

async function loginFails(c: RawClient, name: string): Promise<void> {
  await c.expectCmd(`USER ${name}`, 331);
  await c.expectCmd(`PASS ${name}-pw`, 530);
}

function fingerprintOf(c: RawClient): string | undefined {
  return (c.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256;
}

describe('reload under load, with no session dropped', () => {
  it('SIGHUP: users, permissions, limits, access lists, certificate and log level change; every session finishes', async () => {
    const dir = await tempDir('ftpsd-reload-');
    for (const [name, pem] of [['a', certA], ['b', certB]] as const) {
      await writeFile(join(dir, `${name}-cert.pem`), pem.cert);
      await writeFile(join(dir, `${name}-key.pem`), pem.key, { mode: 0o600 });
    }
    const file = join(dir, 'ftpsd.yaml');
    const v1 = { users: [{ name: 'alice', hash: hashes.alice! }, { name: 'bob', hash: hashes.bob! }], cert: 'a', extra: ['limits: {loginFailureDelayMs: 10}'] };
    await writeFile(file, configText(v1));
    const ftpd = await ChildServer.start(['--config', file]);
    const port = ftpd.port();
    const big = allBytes(32 * 1024 * 1024);
    await writeFile(join(dir, 'root', 'big.bin'), big);

    // In the middle of an upload: half the data sent, the data connection held open.
    const uploader = await logIn(port, 'alice');
    const upData = await uploader.epsv();
    uploader.send('STOR up.bin');
    await uploader.expect(150);
    const upBody = allBytes(3 * 1024 * 1024);
    await new Promise<void>((r) => upData.write(upBody.subarray(0, 1024 * 1024), () => r()));

    // In the middle of a download: the client stops reading, the server waits on backpressure.
    const downloader = await logIn(port, 'bob');
    const downData: Socket = await downloader.epsv();
    downloader.send('RETR big.bin');
    await downloader.expect(150);
    const chunks: Buffer[] = [];
    await once(downData, 'data').then(([chunk]) => chunks.push(chunk as Buffer));
    downData.pause();
    expect((await downloader.cmd('STAT')).text).toMatch(/^213 Transfer in progress/);

    // Idle: logged in as a user about to be removed, not logged in at all, and over TLS with PROT P.
    const idleBob = await logIn(port, 'bob');
    const notLoggedIn = await connectFrom(port);
    const tlsAlice = await connectFrom(port);
    await tlsAlice.auth();
    await tlsAlice.login('alice', 'alice-pw');
    await tlsAlice.expectCmd('PBSZ 0', 200);
    await tlsAlice.expectCmd('PROT P', 200);
    await tlsAlice.expectCmd('TYPE I', 200);
    expect(fingerprintOf(tlsAlice)).toBe(certA.fingerprint256);
    expect(ftpd.logs().some((l) => l.level === 20)).toBe(false); // info: no debug lines yet

    // The new config: carol added, bob removed, alice read-only, one session per address, a network
    // denied, the other certificate, debug logging.
    await writeFile(
      file,
      configText({
        users: [{ name: 'alice', hash: hashes.alice!, readOnly: true }, { name: 'carol', hash: hashes.carol! }],
        cert: 'b',
        extra: ['limits: {loginFailureDelayMs: 10, maxSessionsPerAddress: 1}', 'security: {deny: [127.0.0.10/32]}', 'logLevel: debug'],
      }),
    );
    ftpd.signal('SIGHUP');
    const reloaded = await ftpd.waitForLog((l) => l.msg === 'config reloaded');
    expect(reloaded.changed).toEqual(expect.arrayContaining(['users', 'limits', 'security', 'logLevel', 'tls']));

    // Every running transfer finishes, byte for byte.
    await new Promise<void>((r) => upData.write(upBody.subarray(1024 * 1024), () => r()));
    await writeAll(upData, Buffer.alloc(0));
    await uploader.expect(226);
    expect((await readFile(join(dir, 'root', 'up.bin'))).equals(upBody)).toBe(true);
    downData.on('data', (c: Buffer) => chunks.push(c));
    downData.resume();
    await once(downData, 'end');
    await downloader.expect(226);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);

    // Idle sessions go on: the removed user keeps its login and storage.
    await idleBob.expectCmd('NOOP', 200);
    await idleBob.expectCmd('SIZE big.bin', 213);
    // A connection from before the reload logs in with the new users.
    await loginFails(notLoggedIn, 'bob');
    await notLoggedIn.login('carol', 'carol-pw');
    // The TLS session from before still opens protected data connections (its TLS session resumes).
    const d = await tlsAlice.epsv();
    tlsAlice.send('RETR up.bin');
    await tlsAlice.expect(150);
    expect((await readAll(await tlsAlice.protect(d))).equals(upBody)).toBe(true);
    await tlsAlice.expect(226);

    // New connections: the new cap (127.0.0.1 has many sessions), the deny list, the new certificate,
    // the new users and permissions.
    const full = await connectFrom(port, '127.0.0.1', false);
    await full.expect(421, /from your address/);
    const denied = await connectFrom(port, '127.0.0.10', false);
    await denied.expect(421, /Access denied/);
    const fresh = await connectFrom(port, '127.0.0.11');
    await fresh.auth();
    expect(fingerprintOf(fresh)).toBe(certB.fingerprint256);
    await loginFails(fresh, 'bob');
    await fresh.login('alice', 'alice-pw');
    await fresh.expectCmd('PBSZ 0', 200);
    await fresh.expectCmd('PROT P', 200);
    const refused = await fresh.epsv();
    fresh.send('STOR new.bin');
    await fresh.expect(550); // read-only now
    refused.destroy();
    const second = await connectFrom(port, '127.0.0.11', false);
    await second.expect(421, /from your address/);
    // The log level: debug lines (one per command) appear now.
    await ftpd.waitForLog((l) => l.level === 20 && l.msg === 'command');

    // A broken config is refused, with every problem named; the old config stays in force.
    await writeFile(file, configText({ users: [{ name: 'bob', hash: hashes.bob! }], cert: 'a', extra: ['limits: {maxSessionsPerAddress: 0}', 'colour: blue'] }));
    ftpd.signal('SIGHUP');
    const refusal = await ftpd.waitForLog((l) => /^config reload refused/.test(String(l.msg)));
    expect(refusal.level).toBe(50);
    expect(refusal.errors).toEqual(['limits.maxSessionsPerAddress: must be >= 1', 'colour: unknown option']);
    expect(String(refusal.msg)).toMatch(/keeping the current config$/);
    const after = await connectFrom(port, '127.0.0.12');
    await loginFails(after, 'bob');
    await after.login('carol', 'carol-pw');
    const again = await connectFrom(port, '127.0.0.12', false);
    await again.expect(421, /from your address/);

    for (const c of [uploader, downloader, idleBob, notLoggedIn, tlsAlice, fresh, after]) {
      await c.expectCmd('QUIT', 221).catch(() => undefined);
      c.close();
    }
    expect(ftpd.logs().filter((l) => l.msg === 'session failed')).toEqual([]);
    expect((await ftpd.stop()).code).toBe(0);
    expect(ftpd.crash).toBeUndefined();
  });
});

describe('watchConfig', () => {
  it('reloads when the file changes, and refuses a broken one the same way', async () => {
    const dir = await tempDir('ftpsd-watch-');
    await writeFile(join(dir, 'a-cert.pem'), certA.cert);
    await writeFile(join(dir, 'a-key.pem'), certA.key, { mode: 0o600 });
    const file = join(dir, 'ftpsd.yaml');
    const users = [{ name: 'alice', hash: hashes.alice! }];
    await writeFile(file, configText({ users, cert: 'a', extra: ['watchConfig: true', 'limits: {loginFailureDelayMs: 10}'] }));
    const ftpd = await ChildServer.start(['--config', file]);
    const port = ftpd.port();
    const before = await connectFrom(port);
    await loginFails(before, 'dave');

    await writeFile(file, configText({ users: [...users, { name: 'dave', hash: hashes.dave! }], cert: 'a', extra: ['watchConfig: true', 'limits: {loginFailureDelayMs: 10}'] }));
    await ftpd.waitForLog((l) => l.msg === 'config reloaded' && l.reason === 'config file change');
    await before.login('dave', 'dave-pw');

    await writeFile(file, 'users: [\n');
    const refusal = await ftpd.waitForLog((l) => /^config reload refused/.test(String(l.msg)));
    expect(refusal.reason).toBe('config file change');
    const still = await connectFrom(port);
    await still.login('dave', 'dave-pw');
    for (const c of [before, still]) c.close();
    expect((await ftpd.stop()).code).toBe(0);
  });

  it('without a config file, SIGHUP reloads the certificate only', async () => {
    const dir = await tempDir('ftpsd-hup-');
    await writeFile(join(dir, 'cert.pem'), certA.cert);
    await writeFile(join(dir, 'key.pem'), certA.key, { mode: 0o600 });
    const ftpd = await ChildServer.start([
      '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'root'),
      '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), '--user', 'u:p', '--tls-required', 'off',
    ]);
    await writeFile(join(dir, 'cert.pem'), certB.cert);
    await writeFile(join(dir, 'key.pem'), certB.key, { mode: 0o600 });
    ftpd.signal('SIGHUP');
    await ftpd.waitForLog((l) => l.msg === 'certificate reloaded');
    const c = await connectFrom(ftpd.port());
    await c.auth();
    expect(fingerprintOf(c)).toBe(certB.fingerprint256);
    c.close();
    expect((await ftpd.stop()).code).toBe(0);
  });
});
