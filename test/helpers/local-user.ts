/**
 * A real unprivileged local user for tests that need one (as root only): made with `useradd` (no home,
 * no login shell, its own group) and removed again with `userdel`. `isRoot` says whether such tests can
 * run; they skip with a visible reason otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';

export const isRoot = process.getuid?.() === 0;

export interface LocalUser {
  name: string;
  uid: number;
  gid: number;
  /** Runs `command args` as this user (stdio ignored); the caller stops it. */
  spawn(command: string, args: string[]): ChildProcess;
  remove(): void;
}

export function createLocalUser(prefix = 'ftpsdt'): LocalUser {
  const name = `${prefix}${randomBytes(3).toString('hex')}`;
  const r = spawnSync('useradd', ['--no-create-home', '--user-group', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`useradd ${name} failed: ${r.stderr}`);
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  const f = line!.split(':');
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  return {
    name,
    uid,
    gid,
    spawn: (command, args) => spawn(command, args, { uid, gid, stdio: 'ignore' }),
    remove: () => void spawnSync('userdel', ['--force', name]),
  };
}

/** For a describe block: a user made before its tests and removed after them; call the result in a test. */
export function useLocalUser(): () => LocalUser {
  let user: LocalUser | undefined;
  beforeAll(() => {
    user = createLocalUser();
  });
  afterAll(() => user?.remove());
  return () => user!;
}
