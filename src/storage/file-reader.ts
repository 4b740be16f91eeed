/**
 * A download's source on an open file descriptor: what `LocalStorage.read` returns.
 *
 * It is an ordinary Readable (for TYPE A conversion, byte ranges, hashing, embedders), and it can also
 * fill buffers its caller owns (`readInto`): the data channel sends local files through a few reused
 * buffers that way (data/send-file.ts), instead of one new buffer per chunk, whose garbage (hundreds of
 * megabytes a second) makes V8 run a full collection every few dozen megabytes.
 *
 * Reads know the size the file had when it was opened: they ask for at most one byte more than what is
 * left, so a short read that reaches that size is the end of the file, and a small file takes a single
 * read (and buffer) instead of a full-size one plus another read to find the end. A file that grew
 * meanwhile fills that extra byte and is read on to its real end; one that shrank ends at the first
 * empty read, as before.
 *
 * The descriptor is closed on destroy (also after the end), never while a read on it is in flight: its
 * number could by then name another file.
 */
import * as fs from 'node:fs';
import { Readable } from 'node:stream';

export interface FileReaderOptions {
  /** First byte to read. */
  start: number;
  /** The file's size when it was opened. */
  size: number;
  /** Largest read (and buffer) of the Readable side. */
  chunk: number;
  /** Closes the descriptor (the storage's flavour of close). */
  close(fd: number): Promise<void>;
  /**
   * `readInto` reads up to this many bytes on the event loop (`readSync`) instead of through the thread
   * pool (0, the default: never). For small files on local disks (LocalStorage `blockingMetadata`): such
   * a read from the page cache costs about what a stat costs, while a thread-pool round trip adds two
   * thread wake-ups to every small download.
   */
  syncReadBytes?: number;
}

export class FileReader extends Readable {
  private pos: number;
  private readonly size: number;
  private readonly chunk: number;
  private readonly closeFd: (fd: number) => Promise<void>;
  private readonly syncReadBytes: number;
  private reading = false;
  private eof = false;
  private afterRead: (() => void) | undefined;

  constructor(
    private readonly fd: number,
    options: FileReaderOptions,
  ) {
    super({ highWaterMark: options.chunk });
    this.pos = options.start;
    this.size = options.size;
    this.chunk = options.chunk;
    this.closeFd = options.close;
    this.syncReadBytes = options.syncReadBytes ?? 0;
  }

  /** Bytes left according to the size at open (a hint: the file may change). */
  get remaining(): number {
    return Math.max(0, this.size - this.pos);
  }

  /** A read found the end of the file: the next `readInto` resolves with 0. */
  get ended(): boolean {
    return this.eof;
  }

  /** How many bytes the next read asks for, at most `limit`. */
  private want(limit: number): number {
    return this.pos < this.size ? Math.min(limit, this.size - this.pos + 1) : limit;
  }

  /** Reads into `buf` from the current position; resolves with the bytes read, 0 at the end. */
  readInto(buf: Buffer): Promise<number> {
    if (this.destroyed) return Promise.reject(new Error('FileReader: destroyed'));
    if (this.eof) return Promise.resolve(0);
    if (this.reading) return Promise.reject(new Error('FileReader: a read is already in flight'));
    const want = this.want(buf.length);
    if (want <= this.syncReadBytes) {
      try {
        const n = fs.readSync(this.fd, buf, 0, want, this.pos);
        this.advance(n, want);
        return Promise.resolve(n);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    this.reading = true;
    return new Promise((resolve, reject) => {
      fs.read(this.fd, buf, 0, want, this.pos, (err, n) => {
        this.readDone();
        if (err) return reject(err);
        this.advance(n, want);
        resolve(n);
      });
    });
  }

  override _read(): void {
    if (this.eof) {
      this.push(null);
      return;
    }
    const want = this.want(this.chunk);
    const buf = Buffer.allocUnsafeSlow(want);
    this.reading = true;
    fs.read(this.fd, buf, 0, want, this.pos, (err, n) => {
      this.readDone();
      if (this.destroyed) return;
      if (err) {
        this.destroy(err);
        return;
      }
      this.advance(n, want);
      if (n > 0) this.push(n === want ? buf : buf.subarray(0, n));
      if (this.eof) this.push(null);
    });
  }

  private advance(n: number, want: number): void {
    this.pos += n;
    if (n === 0 || (n < want && this.pos >= this.size)) this.eof = true;
  }

  private readDone(): void {
    this.reading = false;
    const after = this.afterRead;
    this.afterRead = undefined;
    after?.();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const close = () => {
      this.closeFd(this.fd).then(
        () => callback(err),
        (closeErr: Error) => callback(err ?? closeErr),
      );
    };
    if (this.reading) this.afterRead = close;
    else close();
  }
}
