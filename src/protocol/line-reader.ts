/**
 * Framing of the control connection: bytes in, command lines out.
 *
 * This is the one place where untrusted control bytes are parsed, so it is small, bounded and fuzzed.
 * - A line ends at LF, CRLF, or a lone CR (Python's ftplib sends `ABOR\r\n` with MSG_OOB, and the kernel
 *   pulls the final LF out of band). An LF right after a CR-ended line is swallowed, also across chunks.
 * - Telnet (RFC 854) commands are removed: `IAC IAC` is a literal 0xFF byte, `IAC WILL/WONT/DO/DONT x`
 *   drops three bytes, any other `IAC x` (IP, DM, ...) two. An IAC before a byte that is not a Telnet
 *   command (the DM of a Synch went out of band) drops only the IAC.
 * - A line longer than `maxLineBytes` is reported once as `tooLong` (as soon as it passes the limit) and
 *   its bytes are discarded up to the next line end, so memory never grows past the limit; `flood` follows
 *   when the discarding goes on for `floodBytes` without a line end.
 * - Lines are decoded as UTF-8 (RFC 2640); invalid UTF-8 is reported as `invalid`, never guessed.
 * The reader is pull-based: `push()` chunks, `next()` lines; `takeRemainder()` hands the raw bytes not yet
 * consumed to whoever takes over the stream (the TLS upgrade), so nothing pipelined is ever executed twice.
 */

export type LineEvent =
  | { kind: 'line'; text: string }
  /** The line passed the limit; its bytes are being discarded up to the next line end. */
  | { kind: 'tooLong' }
  /** Discarding went on for `floodBytes` more bytes without a line end: endless garbage. */
  | { kind: 'flood' }
  | { kind: 'invalid' };

const LF = 0x0a;
const CR = 0x0d;
const NUL = 0x00;
const IAC = 0xff;
const TELNET_FIRST_COMMAND = 0xf0; // SE; 0xf0..0xff are Telnet commands
const WILL = 0xfb;
const DONT = 0xfe;

const decoder = new TextDecoder('utf-8', { fatal: true });

export class LineReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of the current line (after Telnet processing) collected so far. */
  private line: Buffer;
  private lineLen = 0;
  /** The bytes of the line so far, OR-ed: below 0x80 means plain ASCII (decoded without the UTF-8 check). */
  private lineBits = 0;
  private discarding = false;
  private discarded = 0;
  private afterCR = false;
  /** Pending Telnet state: 0 none, 1 after IAC, 2 after IAC WILL/WONT/DO/DONT. */
  private telnet = 0;

  constructor(
    readonly maxLineBytes = 8192,
    readonly floodBytes = 64 * 1024,
  ) {
    this.line = Buffer.allocUnsafe(Math.min(256, maxLineBytes));
  }

  /** Raw bytes received and not yet consumed by next(). */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete line, or null when more bytes are needed. */
  next(): LineEvent | null {
    while (this.chunks.length > 0) {
      const chunk = this.chunks[0]!;
      let i = 0;
      let event: LineEvent | null = null;
      for (; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (this.telnet === 1) {
          this.telnet = 0;
          if (b === IAC) {
            event = this.append(IAC);
            if (event !== null) {
              i++;
              break;
            }
          }
          else if (b >= WILL && b <= DONT) this.telnet = 2;
          else if (b < TELNET_FIRST_COMMAND) i--; // not a Telnet command: drop the IAC only
          continue;
        }
        if (this.telnet === 2) {
          this.telnet = 0;
          continue;
        }
        if (this.afterCR) {
          this.afterCR = false;
          if (b === LF || b === NUL) continue;
        }
        if (b === IAC) {
          this.telnet = 1;
        } else if (b === LF || b === CR) {
          this.afterCR = b === CR;
          if (this.afterCR && i + 1 < chunk.length && chunk[i + 1] === LF) {
            i++; // CRLF in one chunk: take the LF with the line
            this.afterCR = false;
          }
          event = this.finishLine();
          if (event !== null) {
            i++;
            break;
          }
        } else {
          event = this.append(b);
          if (event !== null) {
            i++;
            break;
          }
        }
      }
      this.consume(i);
      if (event !== null) return event;
    }
    return null;
  }

  /** Hands over every raw byte not yet consumed and leaves the reader empty. */
  takeRemainder(): Buffer {
    let rest = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    // The LF (or NUL) of a line that ended at CR belongs to that line, not to whoever takes over.
    if (this.afterCR && rest.length > 0 && (rest[0] === LF || rest[0] === NUL)) rest = rest.subarray(1);
    this.chunks = [];
    this.buffered = 0;
    this.lineLen = 0;
    this.lineBits = 0;
    this.discarding = false;
    this.afterCR = false;
    this.telnet = 0;
    return rest;
  }

  private consume(n: number): void {
    const chunk = this.chunks[0]!;
    this.buffered -= n;
    if (n >= chunk.length) this.chunks.shift();
    else this.chunks[0] = chunk.subarray(n);
  }

  private append(b: number): LineEvent | null {
    if (this.discarding) {
      if (++this.discarded === this.floodBytes) return { kind: 'flood' };
      return null;
    }
    if (this.lineLen >= this.maxLineBytes) {
      this.discarding = true;
      this.discarded = 0;
      this.lineLen = 0;
      this.lineBits = 0;
      if (this.line.length > 1024) this.line = Buffer.allocUnsafe(256);
      return { kind: 'tooLong' };
    }
    if (this.lineLen === this.line.length) {
      const bigger = Buffer.allocUnsafe(Math.min(this.line.length * 2, this.maxLineBytes));
      this.line.copy(bigger, 0, 0, this.lineLen);
      this.line = bigger;
    }
    this.line[this.lineLen++] = b;
    this.lineBits |= b;
    return null;
  }

  private finishLine(): LineEvent | null {
    if (this.discarding) {
      this.discarding = false;
      return null;
    }
    if (this.lineLen === 0) return null; // empty lines are ignored
    const bytes = this.line.subarray(0, this.lineLen);
    const ascii = this.lineBits < 0x80;
    this.lineLen = 0;
    this.lineBits = 0;
    // Plain ASCII (nearly every command line) is valid UTF-8 as it is: no decoder call.
    const text = ascii ? bytes.toString('latin1') : undefined;
    if (this.line.length > 1024) this.line = Buffer.allocUnsafe(256); // do not keep a big buffer per idle session
    if (text !== undefined) return { kind: 'line', text };
    try {
      return { kind: 'line', text: decoder.decode(bytes) };
    } catch {
      return { kind: 'invalid' };
    }
  }
}
