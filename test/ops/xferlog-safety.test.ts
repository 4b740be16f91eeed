/**
 * Issue 21, item 2: the transfer log is opened as root, in a directory the `runAs` user may write. It
 * never follows a symlink there, takes only a regular file with one link owned by root or the runAs
 * user, refuses a directory others may write (start-up error in one line; at a reopen the old file
 * stays), and a hostile file name can neither add a field nor a line. The attack as the issue tells it
 * (the runAs account plants `xferlog -> a root-only file`) runs as root with a real user made by the
 * test, before the start and before a SIGUSR1 reopen.
 */
import { chmodSync, chownSync, lchownSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { TransferEndEvent } from '../../src/events.js';
import { trustedOwners, UntrustedFileError } from '../../src/config/file-trust.js';
import { XferLog, formatXferlogLine } from '../../src/ops/xferlog.js';
import { curl } from '../e2e/clients.js';
import { expectSuccess, run } from '../e2e/helpers.js';
import { ChildServer, killChildren, removeTempDirs, REPO, tempDir } from '../hardening/child-server.js';
import { isRoot, useLocalUser } from '../helpers/local-user.js';
import { captureLog } from '../helpers/log-capture.js';
import { until } from '../helpers/poll.js';

afterEach(killChildren);
afterAll(removeTempDirs);

const event: TransferEndEvent = {
  id: 's1', remoteAddress: '127.0.0.1', user: 'alice', direction: 'upload', path: '/a.txt', bytes: 3,
  durationMs: 5, mode: 'binary', protection: 'clear', ok: true, code: 226, anonymous: false,
};

/** A directory with a root-only file (the target of the planted links) and a log directory. */
async function setup(): Promise<{ dir: string; logs: string; target: string }> {
  const dir = await tempDir('ftpsd-xfer-safe-');
  chmodSync(dir, 0o755);
  const logs = join(dir, 'log');
  mkdirSync(logs, { mode: 0o755 });
  mkdirSync(join(dir, 'secret'), { mode: 0o700 });
  const target = join(dir, 'secret', 'bashrc');
  writeFileSync(target, 'root only\n', { mode: 0o600 });
  return { dir, logs, target };
}

const unchanged = (target: string) => {
  const st = statSync(target);
  expect({ uid: st.uid, mode: st.mode & 0o7777, text: readFileSync(target, 'utf8') }).toEqual({ uid: process.getuid!(), mode: 0o600, text: 'root only\n' });
};

describe('xferlog: what it opens', () => {
  it('a symlink at the path is refused (O_NOFOLLOW), and its target is left alone', async () => {
    const { logs, target } = await setup();
    symlinkSync(target, join(logs, 'xferlog'));
    expect(() => new XferLog(join(logs, 'xferlog'))).toThrow(UntrustedFileError);
    expect(() => new XferLog(join(logs, 'xferlog'))).toThrow(/is a symbolic link/);
    unchanged(target);
  });

  it('a hard link, a directory, and a directory others may write are refused', async () => {
    const { logs, target } = await setup();
    linkSync(target, join(logs, 'linked'));
    expect(() => new XferLog(join(logs, 'linked'))).toThrow(/has 2 hard links/);
    mkdirSync(join(logs, 'adir'));
    expect(() => new XferLog(join(logs, 'adir'))).toThrow(/EISDIR|not a regular file/);
    chmodSync(logs, 0o777);
    expect(() => new XferLog(join(logs, 'xferlog'))).toThrow(/^the directory of the xferlog, .*log, is writable by others \(mode 0777\): chmod go-w /);
    chmodSync(logs, 0o1777); // sticky (as /tmp): only owners rename there
    const ok = new XferLog(join(logs, 'xferlog'));
    await ok.close();
    unchanged(target);
  });

  it('a reopen (SIGHUP, SIGUSR1) that finds a symlink keeps writing to the old file', async () => {
    const { logs, target } = await setup();
    const file = join(logs, 'xferlog');
    const log = captureLog();
    const x = new XferLog(file, { logger: log.logger });
    x.write(event);
    renameSync(file, `${file}.1`);
    symlinkSync(target, file);
    x.reopen();
    x.write(event);
    await x.close();
    expect(log.find(/xferlog reopen failed/)).toHaveLength(1);
    expect(readFileSync(`${file}.1`, 'utf8').trim().split('\n')).toHaveLength(2);
    unchanged(target);
  });

  it.skipIf(!isRoot)('a file owned by someone else is refused; by an owner it trusts, taken', async () => {
    const { logs } = await setup();
    const file = join(logs, 'xferlog');
    writeFileSync(file, '');
    chownSync(file, 65534, 65534);
    expect(() => new XferLog(file)).toThrow(/is owned by uid 65534/);
    const x = new XferLog(file, { owners: trustedOwners(65534) });
    await x.close();
  });
});

describe('xferlog: a hostile file name cannot add a field or a line', () => {
  const names = [
    '/a b\tc\nd\re', '/x\u2028y\u2029z\u0085w', '/nb\u00a0sp\u3000id\u2003x', '/\u202eevil\u2066.txt',
    '/semi;colon$HOME{a,b}`id`"q\'', '/ 21 127.0.0.1 9 /etc/shadow b _ o r root ftp 0 * c\n',
  ];
  it.each(names)('%j: 18 fields, one line, the name in one field', (path) => {
    const line = formatXferlogLine({ ...event, path }, new Date(2026, 0, 2, 3, 4, 5));
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\n\r\u2028\u2029\u0085]/);
    const w = line.trim().split(/\s+/u);
    expect(w, line).toHaveLength(18);
    expect(w.slice(9)).toEqual(['b', '_', 'i', 'r', 'alice', 'ftp', '0', '*', 'c']);
    expect(w[8]).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
  });
  it('keeps characters the format gives no meaning ($ ; {} quotes)', () => {
    expect(formatXferlogLine({ ...event, path: '/a;b$c{d}' }).split(' ')[9]).toBe('/a;b$c{d}');
  });
});

describe.skipIf(!isRoot)('xferlog: the runAs account plants links (real user, ftpsd as root)', () => {
  const localUser = useLocalUser();
  if (!isRoot) console.warn('xferlog runAs tests skipped: they need root (useradd, switching users)');

  const args = (dir: string, xferlog: string) => [
    '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'served'), '--state-dir', join(dir, 'state'),
    '--user', 'u:p', '--tls-required', 'off', '--run-as-user', localUser().name, '--xferlog', xferlog,
  ];
  const start = (a: string[]) => run(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...a], { cwd: REPO, env: { ...process.env, FTPSD_WORKERS: '1' }, timeoutMs: 30_000 });

  it('a link planted before the start stops the start with one line; the target keeps its owner and content', async () => {
    const { dir, logs, target } = await setup();
    chownSync(logs, localUser().uid, localUser().gid);
    symlinkSync(target, join(logs, 'xferlog'));
    lchownSync(join(logs, 'xferlog'), localUser().uid, localUser().gid); // the link is the user's
    const r = await start(args(dir, join(logs, 'xferlog')));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`error: xferlog ${join(logs, 'xferlog')} is a symbolic link: ftpsd does not follow one there; give the real path`);
    unchanged(target);
  }, 60_000);

  it('a log directory writable by others than root and the runAs user stops the start', async () => {
    const { dir, logs } = await setup();
    chmodSync(logs, 0o777);
    const r = await start(args(dir, join(logs, 'xferlog')));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`error: the directory of the xferlog, ${logs}, is writable by others (mode 0777): chmod go-w ${logs}`);
  }, 60_000);

  it('a link planted before a SIGUSR1 reopen is not followed; the log goes on in the old file', async () => {
    const { dir, logs, target } = await setup();
    chownSync(logs, localUser().uid, localUser().gid);
    const file = join(logs, 'xferlog');
    const ftpd = await ChildServer.start(args(dir, file));
    const local = join(dir, 'up.txt');
    writeFileSync(local, 'x\n');
    expectSuccess(await curl(['--noproxy', '*', '-u', 'u:p', '-T', local, `ftp://127.0.0.1:${ftpd.port()}/up.txt`]));
    await until(() => readFileSync(file, 'utf8').includes('/up.txt'), 'the first line');
    renameSync(file, `${file}.1`);
    symlinkSync(target, file);
    ftpd.signal('SIGUSR1');
    await ftpd.waitForLog((l) => l.msg === 'xferlog reopen failed; writing to the old file');
    expectSuccess(await curl(['--noproxy', '*', '-u', 'u:p', '-T', local, `ftp://127.0.0.1:${ftpd.port()}/up2.txt`]));
    await until(() => readFileSync(`${file}.1`, 'utf8').includes('/up2.txt'), 'the second line in the old file');
    expect((await ftpd.stop()).code).toBe(0);
    unchanged(target);
  }, 60_000);
});
