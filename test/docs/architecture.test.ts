/**
 * docs/architecture.md stays in step with the tree, both ways: every file its layout names exists where it
 * says, and every file of src/, examples/, deploy/, bench/, scripts/ and docs/ (its pages) is named in
 * the layout; every folder of src/ is in it; and it names no path outside the repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const doc = readFileSync(join(REPO, 'docs', 'architecture.md'), 'utf8');

/** The paths the layout block names: `dir/` lines set the folder, file names in them are in it. */
function layoutPaths(): { files: string[]; dirs: string[] } {
  const block = /## Layout\s+```\n([\s\S]*?)```/.exec(doc)?.[1];
  if (!block) throw new Error('docs/architecture.md has no layout block');
  const files: string[] = [];
  const dirs: string[] = [];
  let root = '';
  let dir = '';
  let second = '';
  for (const line of block.split('\n')) {
    const indent = line.length - line.trimStart().length;
    const head = /^\s*([\w.-]+\/)/.exec(line)?.[1];
    if (indent === 0 && head) root = dir = head.slice(0, -1);
    else if (indent === 2 && head) dirs.push((dir = second = `${root}/${head.slice(0, -1)}`));
    else if (indent === 2) dir = root;
    else if (indent === 4 && head) dir = `${second}/${head.slice(0, -1)}`; // a folder in a folder (src/storage/s3/)
    // File names: a name with an extension (not inside backquotes: those are code), or Containerfile.
    const text = line.replace(/`[^`]*`/g, '');
    for (const m of text.matchAll(/(?<![\w./-])([\w-]+\.(?:ts|mjs|yaml|service|md|cfg)|Containerfile)(?![\w/])/g)) files.push(`${dir}/${m[1]}`);
  }
  return { files, dirs };
}

/** Every file below `dir` (relative to the repository), except dotfiles and what git ignores there (TypeDoc's docs/api/, bench/results/). */
function tree(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(REPO, join(e.parentPath, e.name)))
    .filter((f) => !f.startsWith('docs/api/') && !f.startsWith('bench/results/') && !f.split('/').some((part) => part.startsWith('.')));
}

describe('docs/architecture.md', () => {
  const { files, dirs } = layoutPaths();

  it('names only files that exist, where they are', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => !existsSync(join(REPO, f)))).toEqual([]);
  });

  it('names every file of src/, examples/, deploy/, bench/, scripts/ and docs/', () => {
    const actual = ['src', 'examples', 'deploy', 'bench', 'scripts', 'docs'].flatMap(tree);
    expect(actual.length).toBeGreaterThan(150);
    expect(actual.filter((f) => !files.includes(f))).toEqual([]);
  });

  it('names no path outside the repository', () => {
    expect(doc).not.toMatch(/(^|[\s(`'"])(\/work|\/home|\/root|\/tmp|\.\.\/\.\.)\//m);
  });

  it('has every folder of src/ in its layout', () => {
    const actual = readdirSync(join(REPO, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `src/${e.name}`);
    expect(actual.filter((d) => !dirs.includes(d))).toEqual([]);
  });

  it('is linked from the README', () => {
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('](docs/architecture.md)');
  });
});
