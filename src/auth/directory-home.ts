/**
 * Homes named by a directory or a service (LDAP's homeDirectory, the auth hook's `home`): taken relative
 * to the served root and confined to it like any home. `/home/alice` and `home/alice` are both
 * ROOT/home/alice; a value that leaves the root (`..`, a symbolic link out of it) is refused. The home is
 * created when missing.
 */
import { mkdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';

/** The home on disk for `value` under `root`, created if missing; throws an Error saying why it is refused. */
export async function directoryHome(root: string, value: string): Promise<string> {
  if (value.includes('\0')) throw new Error('home contains NUL');
  const base = resolve(root);
  const home = resolve(base, '.' + sep + value);
  if (!inside(base, home)) throw new Error('home is outside the served root');
  await mkdir(home, { recursive: true });
  // A symbolic link on the way may lead out of the root: compare the real paths.
  const [realBase, realHome] = await Promise.all([realpath(base), realpath(home)]);
  if (!inside(realBase, realHome)) throw new Error('home leads outside the served root');
  return home;
}

function inside(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel) && join(base, rel) === path);
}
