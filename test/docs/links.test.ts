/**
 * The manual's links hold: every relative link in README.md and docs/*.md names a file of the repository,
 * and a link to a heading (`file.md#anchor`, `#anchor`) names a heading that exists, with GitHub's
 * anchor rules. Moving a section from one page to another breaks the links to it: this test says which.
 * Also: docs/README.md (the index) lists every page of docs/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const PAGES = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, `-1`, `-2` for repeats. */
function anchors(text: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    const heading = fence ? undefined : /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
    let id = slug;
    for (let i = 1; out.has(id); i++) id = `${slug}-${i}`;
    out.add(id);
  }
  return out;
}

/** Markdown links outside code blocks and code spans: `[text](target)`. */
function links(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

describe('documentation links', () => {
  it('every relative link names an existing file and heading', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const page of PAGES) {
      const text = readFileSync(join(REPO, page), 'utf8');
      for (const link of links(text)) {
        if (/^[a-z]+:/i.test(link)) continue;
        checked++;
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? page : normalize(join(dirname(page), path));
        if (target.startsWith('..') || !existsSync(join(REPO, target))) {
          broken.push(`${page}: ${link} (no file ${target})`);
          continue;
        }
        if (anchor !== undefined && target.endsWith('.md') && !anchors(readFileSync(join(REPO, target), 'utf8')).has(anchor)) {
          broken.push(`${page}: ${link} (no heading #${anchor} in ${target})`);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(broken).toEqual([]);
  });

  it('docs/README.md lists every page of docs/ with a line each, and the front page links the index', () => {
    const index = readFileSync(join(REPO, 'docs', 'README.md'), 'utf8');
    const listed = new Set(links(index).map((l) => l.split('#')[0]));
    const pages = PAGES.filter((p) => p.startsWith('docs/') && p !== 'docs/README.md').map((p) => relative('docs', p));
    expect(pages.filter((p) => !listed.has(p))).toEqual([]);
    expect(readFileSync(join(REPO, 'README.md'), 'utf8')).toContain('](docs/README.md)');
  });

  it("names no path of the machine it was written on (a build machine's /work, /mnt or /shared)", () => {
    const outside: string[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(REPO, page), 'utf8');
      for (const m of text.matchAll(/(?<![\w.])\/(work|mnt|shared)\/[\w./-]*/g)) outside.push(`${page}: ${m[0]}`);
    }
    expect(outside).toEqual([]);
  });
});
