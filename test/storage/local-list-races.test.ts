/**
 * A listing of LocalStorage while a local user plants symlinks: entries are stat()ed through the
 * directory's descriptor (local-list.ts), so neither a directory swapped for a link to outside nor
 * entries turned into links to outside show anything of outside, whatever batch they fall in. Both
 * listings (blocking metadata calls and the thread pool) are checked; the swaps happen after the first
 * batch was read, so the later batches are stat()ed after them.
 */
import * as fs from 'node:fs/promises';
import { symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStorage } from '../../src/storage/local.js';
import type { FileStat } from '../../src/storage/storage.js';

const ENTRIES = 700; // about three batches of 256
const name = (i: number) => `e${String(i).padStart(4, '0')}`;

let base: string;
let root: string;
let outside: string;

beforeEach(async () => {
  base = await fs.mkdtemp(join(tmpdir(), 'ftpsd-list-races-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await fs.mkdir(join(root, 'd'), { recursive: true });
  await fs.mkdir(outside);
  for (let i = 0; i < ENTRIES; i++) {
    writeFileSync(join(root, 'd', name(i)), 'x'); // 1 byte inside
    writeFileSync(join(outside, name(i)), 'y'.repeat(777)); // 777 bytes outside
  }
});

afterEach(() => fs.rm(base, { recursive: true, force: true }));

/** Lists `d`, running `plant` after the first entry arrived (the first batch is stat()ed by then). */
async function listPlanting(storage: LocalStorage, plant: () => Promise<void>): Promise<FileStat[]> {
  const out: FileStat[] = [];
  let planted = false;
  for await (const e of storage.list(['d'])) {
    out.push(e);
    if (!planted) {
      planted = true;
      await plant();
    }
  }
  return out;
}

describe.each([
  ['blocking metadata calls', true],
  ['thread-pool metadata calls', false],
])('listing races (%s)', (_label, blockingMetadata) => {
  it('the listed directory swapped for a link to outside: the rest of the listing is still the directory', async () => {
    const storage = new LocalStorage(root, { blockingMetadata });
    const listed = await listPlanting(storage, async () => {
      await fs.rename(join(root, 'd'), join(root, 'd.moved'));
      await fs.symlink(outside, join(root, 'd'));
    });
    expect(listed.length).toBe(ENTRIES);
    expect(listed.filter((e) => e.size !== 1)).toEqual([]);
  });

  it('entries turned into links to outside during the listing: left out, never shown with outside facts', async () => {
    const storage = new LocalStorage(root, { blockingMetadata });
    const listed = await listPlanting(storage, async () => {
      for (let i = 0; i < ENTRIES; i++) {
        const p = join(root, 'd', name(i));
        unlinkSync(p);
        symlinkSync(join(outside, name(i)), p);
      }
    });
    expect(listed.filter((e) => e.size !== 1)).toEqual([]);
    // The first batch was stat()ed before the links came; the later ones see links that lead out.
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.length).toBeLessThan(ENTRIES);
  });
});
