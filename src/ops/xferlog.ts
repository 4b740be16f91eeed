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
 * Names keep the line to its fixed count of space-separated fields the way vsftpd does: every space in
 * a file or user name becomes `_`, and control and line-separator characters become `?`.
 *
 * The file is opened for appending at start (a failure then is a start-up error) and reopened by
 * `reopen()` (SIGHUP and SIGUSR1 in `ftpsd serve`), so logrotate can move it away and signal.
 */
import { createWriteStream, openSync, closeSync, type WriteStream } from 'node:fs';
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
  return name.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?').replace(/\s/g, '_') || '_';
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
    const fd = openSync(this.file, 'a', 0o640);
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

/** Checks that `file` can be opened for appending (config validation); throws the fs error. */
export function checkWritable(file: string): void {
  closeSync(openSync(file, 'a', 0o640));
}
