/**
 * `npm start` builds only when a source changed (scripts/build-if-changed.mjs): with dist/ newer than
 * every source it does not run tsc. (The other branch is a full build: `npm start` on a fresh clone.)
 */
import { execFile } from 'node:child_process';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from './cli.js';
import { REPO } from '../hardening/child-server.js';

const run = promisify(execFile);

beforeAll(assertBuilt);

describe('npm start', () => {
  it('skips the build when dist/ is newer than every source', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.prestart).toBe('node scripts/build-if-changed.mjs');
    const stamp = join(REPO, 'dist', '.build-stamp');
    const before = await stat(stamp).catch(() => undefined);
    if (!before) await writeFile(stamp, 'test\n');
    const future = new Date(Date.now() + 3600_000);
    await utimes(stamp, future, future);
    const r = await run(process.execPath, [join(REPO, 'scripts', 'build-if-changed.mjs')], { cwd: REPO, timeout: 20_000 });
    expect(r.stdout).toBe('dist/ is up to date with src/: not rebuilding\n');
    // As it was: a stamp this test made claims nothing about the build.
    if (before) await utimes(stamp, before.atime, before.mtime);
    else await rm(stamp);
  });
});
