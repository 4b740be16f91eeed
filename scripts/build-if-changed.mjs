/**
 * `npm start`'s pre-step: builds (`npm run build`) only when dist/ is missing or older than a source
 * (src/**, ui/** of the admin page, the tsconfig files, package.json), judged by modification times against a stamp written
 * after the last successful build. A fresh clone builds once; later starts skip tsc.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = join(REPO, 'dist', '.build-stamp');
const INPUTS = ['src', 'ui', 'scripts/build-admin-ui.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** The newest modification time under `path` (a file or a directory tree), in ms. */
function newest(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

const built = statSync(STAMP, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const main = statSync(join(REPO, 'dist', 'cli', 'main.js'), { throwIfNoEntry: false });
const changed = Math.max(...INPUTS.map((p) => newest(join(REPO, p))));
if (main && built > 0 && changed <= built) {
  process.stdout.write('dist/ is up to date with src/: not rebuilding\n');
} else {
  const npm = process.env.npm_execpath;
  const r = npm ? spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: REPO, stdio: 'inherit' }) : spawnSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}
