/**
 * Issue 21, item 3: ftpsd refuses what someone else could change (StrictModes): a config file, its
 * directory, a certificate, a key or a state directory writable by others than root and the user ftpsd
 * runs as, or a key readable by everyone, stops the start with one line naming the file and the fix
 * (exit 1), and is refused at a reload (SIGHUP, --watch-config) while the running config stays. The
 * --watch-config attack of the issue (a world-writable config file, an account with `home: /` added by
 * another local user) runs as root with a real user made by the test.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { generateCertificateFiles } from '../../src/config/certificate.js';
import { modeProblem } from '../../src/config/file-trust.js';
import { curl } from '../e2e/clients.js';
import { expectFailure, expectSuccess, run } from '../e2e/helpers.js';
import { ChildServer, killChildren, removeTempDirs, REPO, tempDir } from '../hardening/child-server.js';
import { createLocalUser, isRoot, useLocalUser } from '../helpers/local-user.js';

afterEach(killChildren);
afterAll(removeTempDirs);

const base = (dir: string) => ['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'served'), '--tls-required', 'off'];
const start = (args: string[]) => run(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args], { cwd: REPO, env: { ...process.env, FTPSD_WORKERS: '1' }, timeoutMs: 30_000 });

/** Starts with `args` and expects exit code 1 with exactly `line` on stderr. */
async function refused(args: string[], line: string): Promise<void> {
  const r = await start(args);
  expect(r.stderr.trim()).toBe(`error: ${line}`);
  expect(r.code).toBe(1);
}

async function dirWith(): Promise<string> {
  const dir = await tempDir('ftpsd-strict-');
  chmodSync(dir, 0o755);
  return dir;
}

/** A directory with a certificate and key (0600) and the arguments that serve them. */
async function withPair(): Promise<{ dir: string; cert: string; key: string; args: string[] }> {
  const dir = await dirWith();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await generateCertificateFiles(cert, key);
  return { dir, cert, key, args: ['--cert', cert, '--key', key, ...base(dir), '--state-dir', join(dir, 'state')] };
}

describe('StrictModes: refused at start, one line naming the file and the fix', () => {
  it('a config file, or its directory, writable by others', async () => {
    const dir = await dirWith();
    const file = join(dir, 'ftpsd.yaml');
    writeFileSync(file, 'logLevel: info\n', { mode: 0o666 });
    chmodSync(file, 0o666);
    await refused(['--config', file, ...base(dir)], `config file ${file} is writable by others (mode 0666): chmod go-w ${file}`);
    chmodSync(file, 0o644);
    const conf = join(dir, 'conf');
    mkdirSync(conf, { mode: 0o777 });
    chmodSync(conf, 0o777);
    writeFileSync(join(conf, 'ftpsd.yaml'), 'logLevel: info\n');
    await refused(['--config', join(conf, 'ftpsd.yaml'), ...base(dir)], `the directory of the config file, ${conf}, is writable by others (mode 0777): chmod go-w ${conf}`);
    // check-config says the same
    const r = await run(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), 'check-config', file.replace('ftpsd.yaml', 'conf/ftpsd.yaml')], { cwd: REPO });
    expect(r.code).toBe(1);
  }, 60_000);

  it('a key readable by everyone or a certificate writable by others; a key 0640 (group read) is fine', async () => {
    const { dir, cert, key, args } = await withPair();
    chmodSync(key, 0o644);
    await refused(args, `key ${key} is readable by others (mode 0644): chmod 600 ${key} (or 640 with the runAs user's group)`);
    chmodSync(key, 0o640);
    chmodSync(cert, 0o664);
    // Writable by a group that is not the owner's own private group (gid 100, `users` on Debian).
    if (isRoot) chownSync(cert, 0, 100);
    await refused(args, `certificate ${cert} is writable by others (mode 0664): chmod go-w ${cert}`);
    chmodSync(cert, 0o644);
    const ftpd = await ChildServer.start(args);
    expect((await ftpd.stop()).code).toBe(0);
  }, 60_000);

  it('a client CA bundle writable by others (anyone could add a CA and log in by certificate)', async () => {
    const { dir, cert, args } = await withPair();
    const ca = join(dir, 'client-ca.pem');
    writeFileSync(ca, readFileSync(cert));
    chmodSync(ca, 0o666);
    await refused([...args, '--client-ca', ca], `client CA bundle ${ca} is writable by others (mode 0666): chmod go-w ${ca}`);
    chmodSync(ca, 0o644);
    const ftpd = await ChildServer.start([...args, '--client-ca', ca]);
    expect((await ftpd.stop()).code).toBe(0);
  }, 60_000);

  it('a state directory writable by others, or one whose key is readable by everyone', async () => {
    const dir = await dirWith();
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    await generateCertificateFiles(join(state, 'cert.pem'), join(state, 'key.pem'));
    const args = [...base(dir), '--state-dir', state];
    chmodSync(state, 0o777);
    await refused(args, `state directory ${state} is writable by others (mode 0777): chmod go-w ${state}`);
    chmodSync(state, 0o755);
    chmodSync(join(state, 'key.pem'), 0o604);
    await refused(args, `key ${join(state, 'key.pem')} is readable by others (mode 0604): chmod 600 ${join(state, 'key.pem')} (or 640 with the runAs user's group)`);
    // One still to be made, in a directory anyone may write: someone could plant it (a symlink) first.
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    await refused([...base(dir), '--state-dir', join(open, 'state')], `the directory of the state directory, ${open}, is writable by others (mode 0777): chmod go-w ${open}`);
  }, 60_000);

  it.skipIf(!isRoot)('a state directory owned by another user is not reused', async () => {
    const dir = await dirWith();
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    await generateCertificateFiles(join(state, 'cert.pem'), join(state, 'key.pem'));
    chownSync(state, 65534, 65534);
    await refused([...base(dir), '--state-dir', state], `state directory ${state} is owned by uid 65534, not root or the user ftpsd runs as: chown root ${state}`);
  }, 60_000);

  it('SIGHUP: a key made readable by everyone is refused; the running certificate stays', async () => {
    const { dir, cert, key, args } = await withPair();
    const ftpd = await ChildServer.start(args);
    await generateCertificateFiles(cert, key, { force: true });
    chmodSync(key, 0o644);
    ftpd.signal('SIGHUP');
    const line = await ftpd.waitForLog((l) => /^certificate reload refused/.test(String(l.msg)));
    expect(line.error).toBe(`key ${key} is readable by others (mode 0644): chmod 600 ${key} (or 640 with the runAs user's group)`);
    expect((await ftpd.stop()).code).toBe(0);
  }, 60_000);
});

describe.skipIf(!isRoot)('StrictModes: another local user edits a world-writable config under --watch-config (real user)', () => {
  const localUser = useLocalUser();
  if (!isRoot) console.warn('strict-modes user tests skipped: they need root (useradd)');

  it('the edit is refused and logged; the added account with home: / cannot log in; the running one can', async () => {
    const dir = await dirWith();
    const file = join(dir, 'ftpsd.yaml');
    const users = (extra: string) => `users:\n  - { name: alice, password: "${alice}" }\n${extra}`;
    const alice = await hashPassword('alice-pw');
    const mallory = await hashPassword('mallory-pw');
    writeFileSync(file, users(''));
    const ftpd = await ChildServer.start(['--config', file, '--watch-config', ...base(dir), '--state-dir', join(dir, 'state')]);
    chmodSync(file, 0o666); // the admin's mistake
    const edited = users(`  - { name: mallory, password: "${mallory}", home: / }\n`);
    const editor = localUser().spawn('python3', ['-c', 'import sys; open(sys.argv[1], "w").write(sys.argv[2])', file, edited]);
    await new Promise((r) => editor.once('exit', r));
    const line = await ftpd.waitForLog((l) => /^config reload refused/.test(String(l.msg)));
    expect(line.msg).toBe(`config reload refused (config file ${file} is writable by others (mode 0666): chmod go-w ${file}); keeping the current config`);
    const url = `ftp://127.0.0.1:${ftpd.port()}/`;
    expectFailure(await curl(['--noproxy', '*', '-u', 'mallory:mallory-pw', url]));
    expectSuccess(await curl(['--noproxy', '*', '-u', 'alice:alice-pw', url]));
    expect((await ftpd.stop()).code).toBe(0);
  }, 60_000);
});

describe.skipIf(!isRoot)('StrictModes: a user private group (umask 002 on Debian and Ubuntu) is not "others" (real user)', () => {
  const localUser = useLocalUser();
  if (!isRoot) console.warn('strict-modes private-group tests skipped: they need root (useradd)');

  it('a state directory in a group-writable directory of its owner\'s private group starts; a shared group is refused', async () => {
    const user = localUser();
    const dir = await dirWith();
    const home = join(dir, 'home');
    mkdirSync(home);
    chownSync(home, user.uid, user.gid);
    chmodSync(home, 0o775);
    expect(modeProblem(`x ${home}`, home, statSync(home), new Set([user.uid]))).toBeUndefined();
    // The same directory in a group that someone else belongs to (or has as primary group) is writable by others.
    const other = createLocalUser();
    try {
      spawnSync('usermod', ['-a', '-G', user.name, other.name]);
      expect(modeProblem(`x ${home}`, home, statSync(home), new Set([user.uid]))).toBe(`x ${home} is writable by others (mode 0775): chmod go-w ${home}`);
    } finally {
      other.remove();
    }
    chownSync(home, user.uid, 100); // `users`, or any group that is not the owner's own
    expect(modeProblem(`x ${home}`, home, statSync(home), new Set([user.uid]))).toMatch(/is writable by others/);
    // Owned by root in root's own group, mode 0775: ftpsd (root here) starts with its state directory in it.
    chownSync(home, 0, 0);
    const ftpd = await ChildServer.start([...base(dir), '--state-dir', join(home, 'state')]);
    expect((await ftpd.stop()).code).toBe(0);
  }, 60_000);
});
