/**
 * Issue 21, item 1: the directories ftpsd creates as root for its `runAs` user are never handed over by
 * path. A real unprivileged user (made by the test) owns the parent of the served root and, while ftpsd
 * starts, renames the new directory away and plants a symlink to a root-only file in its place, in a
 * loop; the file must stay root's. Also: where the parent is root's alone, root creates the directory
 * and gives it away through its descriptor; where the user may not create it, the start fails with a
 * line saying so. As root only (skipped otherwise).
 */
import { chmodSync, chownSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { run } from '../e2e/helpers.js';
import { ChildServer, killChildren, removeTempDirs, REPO, tempDir } from '../hardening/child-server.js';
import { isRoot, useLocalUser } from '../helpers/local-user.js';

afterEach(killChildren);
afterAll(removeTempDirs);

if (!isRoot) console.warn('run-as-dirs tests skipped: they need root (useradd, switching users)');

/**
 * Renames `PARENT/served` away whenever it is a directory and puts a symlink to TARGET there, a little
 * after it appears (once ftpsd is past its mkdirs, in the certificate and listener work).
 */
const ATTACK = `
import os, stat, sys, time
p, t = sys.argv[1], sys.argv[2]
s = os.path.join(p, 'served')
i = 0
while True:
    try:
        if stat.S_ISDIR(os.lstat(s).st_mode):
            time.sleep(0.02)
            os.rename(s, os.path.join(p, 'moved%d' % i))
            i += 1
            os.symlink(t, s)
    except OSError:
        pass
`;

const args = (dir: string, root: string, user: string) => [
  '--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', root, '--state-dir', join(dir, 'state'),
  '--user', 'u:p', '--tls-required', 'off', '--run-as-user', user,
];

describe.skipIf(!isRoot)('runAs: the served directories are created for the user, never chowned by path', () => {
  const localUser = useLocalUser();

  async function setup() {
    const dir = await tempDir('ftpsd-runas-dirs-');
    chmodSync(dir, 0o755);
    const parent = join(dir, 'parent');
    mkdirSync(parent, { mode: 0o755 });
    chownSync(parent, localUser().uid, localUser().gid);
    mkdirSync(join(dir, 'secret'), { mode: 0o700 });
    const target = join(dir, 'secret', 'shadow');
    writeFileSync(target, 'root only\n', { mode: 0o600 });
    return { dir, parent, target };
  }

  it('a user racing the start with rename + symlink never gets a root-only file (3 starts)', async () => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { dir, parent, target } = await setup();
      const attacker = localUser().spawn('python3', ['-c', ATTACK, parent, target]);
      try {
        await new Promise((r) => setTimeout(r, 100)); // the loop runs before ftpsd starts
        const ftpd = await ChildServer.start(args(dir, join(parent, 'served'), localUser().name)).catch(() => undefined);
        await ftpd?.stop();
      } finally {
        attacker.kill('SIGKILL');
      }
      const st = statSync(target);
      expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, `attempt ${attempt + 1}`).toEqual({ uid: 0, gid: 0, mode: 0o600 });
    }
  }, 120_000);

  it('in a parent the user owns, the served root is made by the user itself; in a root-only parent, by root and handed over', async () => {
    const { dir, parent } = await setup();
    const inUsers = join(parent, 'a', 'b');
    let ftpd = await ChildServer.start(args(dir, inUsers, localUser().name));
    expect(statSync(inUsers).uid).toBe(localUser().uid);
    expect(statSync(join(parent, 'a')).uid).toBe(localUser().uid);
    await ftpd.stop();
    const inRoots = join(dir, 'served', 'x');
    ftpd = await ChildServer.start(args(dir, inRoots, localUser().name));
    expect(statSync(join(dir, 'served')).uid).toBe(localUser().uid);
    expect(statSync(inRoots)).toMatchObject({ uid: localUser().uid, gid: localUser().gid });
    expect((await ftpd.stop()).code).toBe(0);
  }, 60_000);

  it('where the user may not create the directory (a parent of someone else), the start fails saying so', async () => {
    const { dir } = await setup();
    const other = join(dir, 'other');
    mkdirSync(other, { mode: 0o755 });
    chownSync(other, 65534, 65534); // nobody's: not root's alone, and not writable by the runAs user
    const r = await run(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/main.ts'), ...args(dir, join(other, 'served'), localUser().name)], { cwd: REPO, env: { ...process.env, FTPSD_WORKERS: '1' }, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`error: root: cannot create directory ${join(other, 'served')}: ${localUser().name} (runAs) may not create it (its parent is not root's alone, so ftpsd creates it as ${localUser().name}): create it and give it to ${localUser().name}`);
  }, 60_000);
});
