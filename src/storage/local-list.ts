/**
 * LocalStorage's directory listing: entries are read from the checked directory descriptor and stat()ed
 * in batches of `BATCH` entries, so a directory of any size is listed in bounded memory (one batch at a
 * time, and only as fast as the consumer takes them).
 *
 * With blocking metadata calls (local-fs.ts) a batch is read and stat()ed on the event loop, which then
 * gets a turn (setImmediate) before the next batch: a batch costs about a millisecond on a local disk,
 * so no listing holds up other sessions for longer than that. With thread-pool calls the stats of a batch
 * run in parallel.
 *
 * Entries are lstat()ed through the directory descriptor (`/proc/self/fd/N/name`), so an entry that
 * became a symlink after readdir is not followed; symlinks are followed only when they stay inside the
 * root (`checkLink`). Entries that vanish meanwhile, links that lead out or nowhere, special files and
 * in-flight upload temp files are left out.
 *
 * The checked directory is opened here too (and closed at the end), so that a listing is one async
 * generator: each entry costs one step, not one per layer.
 */
import type { Dirent, Stats } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MetaFs } from './local-fs.js';
import type { CheckedDir } from './local-upload.js';
import type { FileStat } from './storage.js';

const BATCH = 256;

export async function* listDirectory(
  fs: MetaFs,
  openDir: () => Promise<CheckedDir>,
  tempPrefix: string,
  checkLink: (dir: CheckedDir, name: string) => Promise<void>,
  toStat: (name: string, st: Stats) => FileStat,
): AsyncIterable<FileStat> {
  const dir = await openDir();
  try {
    const listing = await fs.opendir(dir.path, BATCH);
    try {
      for (let first = true; ; first = false) {
        if (fs.blocking && !first) await nextTurn();
        const read = await fs.readEntries(listing, BATCH);
        const entries = read.filter((d) => !d.name.startsWith(tempPrefix));
        const stats = await fs.statEach(
          entries.map((d) => dir.at(d.name)),
          false,
        );
        for (let i = 0; i < entries.length; i++) {
          const d = entries[i]!;
          const st = d.isSymbolicLink() ? await followLink(fs, dir, d.name, checkLink) : stats[i];
          if (st && (st.isFile() || st.isDirectory())) yield toStat(d.name, st);
        }
        if (read.length < BATCH) return;
      }
    } finally {
      await listing.close().catch(() => {});
    }
  } finally {
    await dir.close();
  }
}

/** A symlink is shown as its target, when that stays inside the root. */
async function followLink(fs: MetaFs, dir: CheckedDir, name: string, checkLink: (dir: CheckedDir, name: string) => Promise<void>): Promise<Stats | undefined> {
  try {
    await checkLink(dir, name);
  } catch {
    return undefined; // a link that leads out or nowhere
  }
  return (await fs.statEach([dir.at(name)], true))[0];
}
