/**
 * The upload journal: how a process finds the temp files (`.ftpsd-upload-*`) that a crashed process left
 * behind, without walking the served tree.
 *
 * Each process (a single `ftpsd serve`, or each worker of a cluster) appends to a journal of its own in a
 * directory of the state directory (`stateDir/upload-journals/`): one JSON line naming a temp file (the
 * storage's root, the directory relative to it, the name) before the file is created, and one line when it
 * is gone again (renamed over its target, or removed after a failure). A process that is killed leaves the
 * lines of the uploads it was running without their end.
 *
 * At start, `openUploadJournal` first recovers: every journal of this directory whose process is gone is
 * claimed (renamed to a name of this process, atomically, so two processes starting at once never claim
 * the same one) and the temp files it names without an end are removed; then the claimed journal is
 * deleted and the process opens its own. It logs how many files it removed and their bytes.
 *
 * Whose a journal is: its file name holds a hash of the host name, a hash of the kernel's boot id, the pid
 * and the process start time (Linux `/proc/PID/stat`). A journal is left alone while a process with that
 * pid and start time runs on this boot, and always when it is from another host name (processes of other
 * hosts or containers sharing the state directory recover their own). Where the start time cannot be read
 * (no procfs), a live pid counts as the owner; when in doubt a journal is kept, never recovered.
 *
 * What recovery may remove: only a regular file whose name is exactly `.ftpsd-upload-` and 16 hex digits,
 * in a directory that resolves inside the recorded root (symlinks followed only inside it, the directory
 * checked on its open descriptor like every LocalStorage name operation: local-root.ts), when that root is
 * one of the roots the caller serves (or inside one). A symlink with that name is left alone. So a journal
 * line, whoever wrote it, cannot make the server delete anything else.
 *
 * Bounds: the journal is rewritten with only the open entries (compacted) once it has grown past
 * `COMPACT_BYTES` and 4 times the open entries' size; open entries are the uploads running now. Lines are
 * written synchronously (a few microseconds; the file is not fsynced, so after a power loss (not a process
 * crash) the last lines may be missing and their temp files stay).
 *
 * Limits: a temp file whose directory was renamed after the upload started is not found (its journal line
 * names the old place); it is counted as missing.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as nodePath from 'node:path';
import type { Logger } from '../logger.js';
import { checkSegments, LocalRoot, TEMP_PREFIX } from './local-root.js';

/** The name of a temp file LocalStorage makes: the prefix and 16 hex digits. */
export const TEMP_NAME = new RegExp(`^${TEMP_PREFIX.replace(/[.]/g, '\\.')}[0-9a-f]{16}$`);

/** The journals' directory in the state directory (the command, and createServer given a stateDir). */
export const JOURNAL_DIR = 'upload-journals';

/** Rewrite the journal with its open entries past this size (and 4 times their size). */
export const COMPACT_BYTES = 256 * 1024;
/** A journal larger than this is not read at recovery (a real one is compacted long before). */
const MAX_JOURNAL_BYTES = 64 * 1024 * 1024;

/** Journal file names: host hash, boot hash, pid, start time, random; `.journal`, `.claimed`. */
const FILE_NAME = /^([0-9a-f]{8})-([0-9a-f]{8})-(\d{1,10})-(\d{1,20})-([0-9a-f]{8})\.(journal|claimed)$/;

/** A journal line (JSON): the header, an upload's temp file (`b`), or its end (`e`). */
interface BeginRecord {
  b: number;
  root: string;
  dir: string;
  name: string;
}

/** What recovery found and did. */
export interface RecoveryReport {
  /** Journals of ended processes that were recovered. */
  journals: number;
  /** Temp files removed, and their bytes. */
  files: number;
  bytes: number;
  /** Entries whose file was already gone (or whose directory was renamed meanwhile). */
  missing: number;
  /** Entries refused: outside the served roots, a bad name, or not a regular file. */
  refused: number;
}

/** Where an upload's temp file is, as LocalStorage records it. */
export interface TempFileRecord {
  /** The storage root's real path. */
  root: string;
  /** The directory, relative to the root ('' for the root itself), `/`-separated. */
  dir: string;
  /** The temp file's name (`.ftpsd-upload-` and 16 hex digits). */
  name: string;
}

/**
 * A process's upload journal (see the file comment): LocalStorage calls `begin` before it creates a temp
 * file and `end` once the file is gone. Made by {@link openUploadJournal}.
 */
export class UploadJournal {
  private fd: number;
  private next = 1;
  /** Open entries: token to their line. */
  private readonly open = new Map<number, string>();
  private openBytes = 0;
  /** Bytes in the file now. */
  private size: number;
  private warnedAt = 0;
  private closed = false;

  /** @internal */
  constructor(
    /** The journal file. */
    readonly file: string,
    fd: number,
    private readonly header: string,
    private readonly log: Logger,
  ) {
    this.fd = fd;
    this.size = Buffer.byteLength(header);
  }

  /** Records a temp file about to be created; returns the token for `end`. Never throws (a failure is logged). */
  begin(record: TempFileRecord): number {
    const token = this.next++;
    if (this.closed) return token;
    const line = JSON.stringify({ b: token, root: record.root, dir: record.dir, name: record.name }) + '\n';
    this.open.set(token, line);
    this.openBytes += Buffer.byteLength(line);
    this.append(line);
    return token;
  }

  /** The temp file of `token` is gone (committed or removed). */
  end(token: number): void {
    const line = this.open.get(token);
    if (line === undefined) return;
    this.open.delete(token);
    this.openBytes -= Buffer.byteLength(line);
    if (this.closed) return;
    this.append(`{"e":${token}}\n`);
    if (this.size > COMPACT_BYTES && this.size > 4 * this.openBytes) this.compact();
  }

  /** Uploads recorded and not ended. */
  get running(): number {
    return this.open.size;
  }

  /**
   * Closes the journal. With `remove` (a clean stop, no upload running) the file is deleted; otherwise
   * it stays for the next start to recover.
   */
  close(remove = this.open.size === 0): void {
    if (this.closed) return;
    this.closed = true;
    try {
      fs.closeSync(this.fd);
      if (remove) fs.unlinkSync(this.file);
    } catch {
      // nothing to do: the next start recovers what is left
    }
  }

  private append(line: string): void {
    try {
      fs.writeSync(this.fd, line);
      this.size += Buffer.byteLength(line);
    } catch (err) {
      this.warn(err);
    }
  }

  /**
   * Rewrites the file with the header and the open entries, in place through the descriptor: no path is
   * used after the journal was opened, so this works after a privilege switch (the state directory stays
   * root's) and nobody can swap the file. A crash between the truncation and the write loses the open
   * entries: the temp files of uploads running at that instant would then stay (hidden), nothing else.
   */
  private compact(): void {
    try {
      const text = this.header + [...this.open.values()].join('');
      fs.ftruncateSync(this.fd, 0);
      // O_APPEND: the write lands at the new end, offset 0.
      fs.writeSync(this.fd, text);
      this.size = Buffer.byteLength(text);
    } catch (err) {
      this.warn(err);
    }
  }

  private warn(err: unknown): void {
    const now = Date.now();
    if (now - this.warnedAt < 60_000) return;
    this.warnedAt = now;
    this.log.warn({ file: this.file, err: (err as Error).message }, 'upload journal write failed; temp files of a crash may be left behind');
  }
}

// --- who owns a journal -------------------------------------------------------------------------

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** A regular file's text, never through a symlink (journals may sit in a directory the runAs user owns). */
function readText(path: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_JOURNAL_BYTES) return undefined;
    return fs.readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Field 22 (start time, clock ticks since boot) and field 3 (state) of /proc/PID/stat. */
function procStat(pid: number | 'self'): { start: string; state: string } | undefined | 'gone' {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined;
  }
  // The command name (field 2) is in parentheses and may hold anything: count from the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = rest[19];
  return start !== undefined && /^\d+$/.test(start) ? { start, state: rest[0] ?? '' } : undefined;
}

interface Owner {
  host: string;
  boot: string;
  pid: number;
  start: string;
}

let self: Owner | undefined;
/** The journals this process opened (several servers in one process each have one). */
const ours = new Set<string>();

/** This process as a journal owner. */
function selfOwner(): Owner {
  if (self && self.pid === process.pid) return self;
  const boot = readText('/proc/sys/kernel/random/boot_id')?.trim();
  const stat = procStat('self');
  self = {
    host: shortHash(hostname()),
    boot: boot ? shortHash(boot) : '00000000',
    pid: process.pid,
    start: typeof stat === 'object' ? stat.start : '0',
  };
  return self;
}

/** Whether the process that owns a journal may still be running (true when in doubt). */
function mayRun(owner: Owner, me: Owner): boolean {
  if (owner.boot !== me.boot) return false; // the machine restarted since
  // Not one of ours (checked before), so an earlier process that had our pid.
  if (owner.pid === me.pid) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  if (owner.start === '0') return true;
  const stat = procStat(owner.pid);
  if (stat === 'gone') return false;
  if (stat === undefined) return true;
  return stat.state !== 'Z' && stat.start === owner.start;
}

// --- recovery -------------------------------------------------------------------------------------

/** Removes temp files through LocalRoot's checks (the directory resolved inside the root and held open). */
class LeftoverRemover extends LocalRoot {
  constructor(root: string) {
    super(root, true);
  }

  /** The size of the removed file; 'missing' when there is none; 'refused' for anything but a regular file. */
  async remove(dir: string[], name: string): Promise<number | 'missing' | 'refused'> {
    let dirReal: string;
    try {
      dirReal = await this.resolve(dir);
    } catch {
      return 'missing';
    }
    return this.withDir(dirReal, async (checked) => {
      let st: fs.Stats;
      try {
        st = fs.lstatSync(checked.at(name));
      } catch {
        return 'missing';
      }
      if (!st.isFile()) return 'refused';
      try {
        fs.unlinkSync(checked.at(name));
      } catch {
        return 'missing';
      }
      return st.size;
    });
  }
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(nodePath.sep) ? root : root + nodePath.sep);
}

/** The open entries of a journal's text (begin lines without their end); malformed lines are skipped. */
export function openEntries(text: string): TempFileRecord[] {
  const begun = new Map<number, TempFileRecord>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue; // a line cut short by the crash
    }
    if (typeof v !== 'object' || v === null) continue;
    const r = v as Partial<BeginRecord> & { e?: unknown };
    if (typeof r.e === 'number') begun.delete(r.e);
    else if (typeof r.b === 'number' && typeof r.root === 'string' && typeof r.dir === 'string' && typeof r.name === 'string') {
      begun.set(r.b, { root: r.root, dir: r.dir, name: r.name });
    }
  }
  return [...begun.values()];
}

async function recoverFile(path: string, allowed: string[], report: RecoveryReport, log: Logger): Promise<void> {
  const text = readText(path) ?? '';
  const removers = new Map<string, LeftoverRemover>();
  for (const entry of openEntries(text)) {
    const dir = entry.dir === '' ? [] : entry.dir.split('/');
    let ok = TEMP_NAME.test(entry.name) && nodePath.isAbsolute(entry.root) && allowed.some((a) => inside(a, entry.root));
    try {
      checkSegments(dir);
    } catch {
      ok = false;
    }
    if (!ok) {
      report.refused++;
      log.warn({ root: entry.root, dir: entry.dir, name: entry.name }, 'upload journal: entry outside the served directories or not a temp file name; not removed');
      continue;
    }
    let remover = removers.get(entry.root);
    if (!remover) removers.set(entry.root, (remover = new LeftoverRemover(entry.root)));
    const result = await remover.remove(dir, entry.name).catch(() => 'missing' as const);
    if (result === 'missing') report.missing++;
    else if (result === 'refused') report.refused++;
    else {
      report.files++;
      report.bytes += result;
    }
  }
  fs.rmSync(path, { force: true });
}

/** Real paths of the roots recovery may act in (those that exist). */
function realRoots(roots: readonly string[]): string[] {
  const out: string[] = [];
  for (const r of roots) {
    try {
      out.push(fs.realpathSync.native(r));
    } catch {
      // a root that does not exist holds no temp file
    }
  }
  return out;
}

/**
 * Recovers the journals of ended processes in `dir` (see the file comment); returns what it did. Never
 * touches a journal of a process that may run.
 */
export async function recoverUploads(dir: string, roots: readonly string[], log: Logger): Promise<RecoveryReport> {
  const report: RecoveryReport = { journals: 0, files: 0, bytes: 0, missing: 0, refused: 0 };
  const me = selfOwner();
  const allowed = realRoots(roots);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return report;
  }
  for (const name of names) {
    const m = FILE_NAME.exec(name);
    if (!m) continue;
    const owner: Owner = { host: m[1]!, boot: m[2]!, pid: Number(m[3]), start: m[4]! };
    if (ours.has(name) || owner.host !== me.host || mayRun(owner, me)) continue;
    const path = nodePath.join(dir, name);
    // Claim it: only one process wins the rename.
    const claimed = nodePath.join(dir, `${ownerPrefix(me)}-${randomBytes(4).toString('hex')}.claimed`);
    try {
      fs.renameSync(path, claimed);
    } catch {
      continue; // someone else claimed it
    }
    report.journals++;
    ours.add(nodePath.basename(claimed));
    try {
      await recoverFile(claimed, allowed, report, log);
    } finally {
      ours.delete(nodePath.basename(claimed));
    }
  }
  return report;
}

function ownerPrefix(o: Owner): string {
  return `${o.host}-${o.boot}-${o.pid}-${o.start}`;
}

/** Options of {@link openUploadJournal}. */
export interface UploadJournalOptions {
  /** The directory of the journals (created, mode 0700). The command uses `stateDir/upload-journals`. */
  dir: string;
  /**
   * The directories served (roots of LocalStorage: the root and every home): recovery removes temp files
   * only inside these.
   */
  roots: readonly string[];
  /** Where the recovery line and journal problems are logged. */
  logger: Logger;
}

/**
 * Recovers what ended processes left (their temp files are removed, logged as `removed leftover upload
 * temp files` with `files` and `bytes`), then opens this process's journal, for LocalStorage's `journal`
 * option. Throws when the directory or the journal cannot be made.
 */
export async function openUploadJournal(options: UploadJournalOptions): Promise<{ journal: UploadJournal; recovered: RecoveryReport }> {
  const { dir, logger } = options;
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const recovered = await recoverUploads(dir, options.roots, logger);
  if (recovered.files > 0 || recovered.missing > 0 || recovered.refused > 0) {
    logger.warn(
      { files: recovered.files, bytes: recovered.bytes, missing: recovered.missing, refused: recovered.refused, journals: recovered.journals },
      'removed leftover upload temp files',
    );
  }
  const me = selfOwner();
  const file = nodePath.join(dir, `${ownerPrefix(me)}-${randomBytes(4).toString('hex')}.journal`);
  const header = JSON.stringify({ ftpsd: 'upload-journal', v: 1, pid: me.pid, host: hostname() }) + '\n';
  // A new file, never through a symlink: opened once, then written through this descriptor only.
  const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, header);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  ours.add(nodePath.basename(file));
  return { journal: new UploadJournal(file, fd, header, logger), recovered };
}
