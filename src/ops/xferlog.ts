/**
 * The transfer log in the classic xferlog format (wu-ftpd, vsftpd's `xferlog_std_format`), one line per
 * file transfer, completed or not, for the tools that read it:
 *
 *   Sat Nov 28 20:03:11 2026 1 127.0.0.1 1024 /dir/file.txt b _ o r alice ftp 0 * c
 *
 * Fields: current-time (local, ctime style: the day of the month is padded with a space), transfer-time
 * (whole seconds, at least 1), remote-host (the client's address; no reverse lookup), file-size (bytes
 * moved, also for an incomplete transfer), filename (the path as the user sees it, inside the home),
 * transfer-type (`a` ascii, `b` binary), special-action-flag (`_`: none), direction (`o` outgoing =
 * download, `i` incoming = upload), access-mode (`a` anonymous, `r` real user), username (the login name;
 * `anonymous` for anonymous logins: the e-mail given as password is never written), service-name
 * (`ftp`, also for FTPS), authentication-method (`0`: none), authenticated-user-id (`*`), and
 * completion-status (`c` complete, `i` incomplete).
 *
 * That is 18 space-separated tokens (the time is 5). Names keep the line to them the way vsftpd does:
 * every white space in a file or user name (any Unicode space) becomes `_`, and control, line-separator
 * and bidirectional-override characters become `?`, so a name can neither add a field or a line nor
 * make a terminal show the line in another order. Other characters (`;`, `$`, `{}`, quotes) are legal in
 * file names and mean nothing in the format: they are kept, so the path stays the path; a tool that
 * hands a field to a shell must quote it.
 *
 * The file is opened for appending at start (a failure then is a start-up error) and reopened by
 * `reopen()` (SIGHUP and SIGUSR1 in `ftpsd serve`), so logrotate can move it away and signal. ftpsd
 * opens it as root before switching users, in a directory the `runAs` user may write: it never follows
 * a symlink there (O_NOFOLLOW), takes only a regular file with one link owned by root, the user ftpsd
 * was started as or the `runAs` user, and refuses a directory that anyone else may write (as ProFTPD).
 */
import { closeSync, constants, createWriteStream, fstatSync, openSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { dirProblem, trustedOwners, UntrustedFileError } from '../config/file-trust.js';
import type { ServerEvents, TransferEndEvent } from '../events.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Sat Nov  8 20:03:11 2026` in local time, as ctime(3) writes it. */
export function xferlogTime(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`
  );
}

/** A name as one xferlog field: spaces become `_`, control and separator characters `?`. */
export function xferlogName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?').replace(/\s/g, '_') || '_';
}

/** One xferlog line (with its newline) for a transfer that ended at `end`. */
export function formatXferlogLine(e: TransferEndEvent, end: Date = new Date()): string {
  const seconds = Math.max(1, Math.round(e.durationMs / 1000));
  return (
    [
      xferlogTime(end),
      seconds,
      e.remoteAddress,
      e.bytes,
      xferlogName(e.path),
      e.mode === 'ascii' ? 'a' : 'b',
      '_',
      e.direction === 'upload' ? 'i' : 'o',
      e.anonymous ? 'a' : 'r',
      xferlogName(e.user ?? '*'),
      'ftp',
      '0',
      '*',
      e.ok ? 'c' : 'i',
    ].join(' ') + '\n'
  );
}

export interface XferLogOptions {
  logger?: Logger;
  /** Who may own the file and its directory; default: root and the user ftpsd was started as. */
  owners?: ReadonlySet<number>;
  /** The clock (tests). */
  now?: () => Date;
}

export class XferLog {
  private stream: WriteStream;
  private detachers: (() => void)[] = [];
  private closed = false;

  /** Opens `file` for appending (throws when it cannot be opened, e.g. a missing directory). */
  constructor(
    readonly file: string,
    private readonly options: XferLogOptions = {},
  ) {
    this.stream = this.open();
  }

  private get log(): Logger {
    return this.options.logger ?? silentLogger;
  }

  private open(): WriteStream {
    const fd = openLogFile(this.file, this.options.owners ?? trustedOwners());
    const stream = createWriteStream('', { fd, flags: 'a' });
    stream.on('error', (err) => this.log.error({ err, file: this.file }, 'xferlog write failed'));
    return stream;
  }

  /** Writes a line for every `transfer-end` event of `events`; returns a function that stops it. */
  attach(events: ServerEvents): () => void {
    const listener = (e: TransferEndEvent) => this.write(e);
    events.on('transfer-end', listener);
    const detach = () => events.off('transfer-end', listener);
    this.detachers.push(detach);
    return detach;
  }

  write(e: TransferEndEvent): void {
    if (this.closed) return;
    this.stream.write(formatXferlogLine(e, this.options.now?.() ?? new Date()));
  }

  /** Opens the file again (after logrotate moved it); on failure the current file stays in use. */
  reopen(): void {
    if (this.closed) return;
    let next: WriteStream;
    try {
      next = this.open();
    } catch (err) {
      this.log.error({ err: (err as Error).message, file: this.file }, 'xferlog reopen failed; writing to the old file');
      return;
    }
    const old = this.stream;
    this.stream = next;
    old.end();
    this.log.info({ file: this.file }, 'xferlog reopened');
  }

  /** Stops listening and closes the file once every line is written. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const detach of this.detachers.splice(0)) detach();
    const stream = this.stream;
    await new Promise<void>((resolve) => {
      if (stream.closed) return resolve();
      stream.once('close', () => resolve());
      stream.end();
    });
  }
}

const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opens `file` for appending without following a symlink, and only if it is a regular file with one
 * link owned by one of `owners`, in a directory nobody else may write; throws an UntrustedFileError
 * that says what is wrong (or the fs error: a missing directory).
 */
export function openLogFile(file: string, owners: ReadonlySet<number>): number {
  const dirWrong = dirProblem(dirname(file), 'xferlog', owners);
  if (dirWrong) throw new UntrustedFileError(dirWrong);
  let fd: number;
  try {
    fd = openSync(file, APPEND, 0o640);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new UntrustedFileError(`xferlog ${file} is a symbolic link: ftpsd does not follow one there; give the real path`);
    throw err;
  }
  const st = fstatSync(fd);
  const wrong = !st.isFile()
    ? 'is not a regular file'
    : st.nlink !== 1
      ? `has ${st.nlink} hard links`
      : !owners.has(st.uid)
        ? `is owned by uid ${st.uid}, not root or the user ftpsd runs as`
        : undefined;
  if (wrong) {
    closeSync(fd);
    throw new UntrustedFileError(`xferlog ${file} ${wrong}: remove it (ftpsd creates it)`);
  }
  return fd;
}
