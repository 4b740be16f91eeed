/**
 * A strict reader of FTP replies as they arrive on the wire, for the fuzzer: every line must end in
 * CRLF, hold no other control character, be valid UTF-8, and replies must be well-formed (RFC 959 4.2):
 * `ddd text` or a multi-line `ddd-text ... ddd text`, with no continuation line that looks like a reply.
 */

export interface WireReply {
  code: number;
  lines: string[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export class ReplyReader {
  readonly replies: WireReply[] = [];
  readonly violations: string[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private multi: WireReply | undefined;
  private waiters: (() => void)[] = [];

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const end = this.pending.indexOf('\r\n');
      if (end < 0) break;
      const raw = this.pending.subarray(0, end);
      this.pending = this.pending.subarray(end + 2);
      this.line(raw);
    }
    if (this.pending.length > 64 * 1024) this.violation(`a reply line over 64 KiB without CRLF`);
    this.wake();
  }

  /** Bytes after the last CRLF (a reply cut off); call when the connection is over. */
  get leftover(): number {
    return this.pending.length + (this.multi ? 1 : 0);
  }

  private line(raw: Buffer): void {
    let text: string;
    try {
      text = decoder.decode(raw);
    } catch {
      this.violation(`invalid UTF-8 in reply line: ${JSON.stringify(raw.toString('latin1').slice(0, 120))}`);
      text = raw.toString('latin1');
    }
    if (CONTROL.test(text)) this.violation(`control character in reply line: ${JSON.stringify(text.slice(0, 120))}`);
    if (this.multi) {
      const code = String(this.multi.code);
      if (text.startsWith(`${code} `)) {
        this.multi.lines.push(text.slice(4));
        this.replies.push(this.multi);
        this.multi = undefined;
      } else {
        if (/^\d{3}[ -]/.test(text)) this.violation(`continuation line that looks like a reply: ${JSON.stringify(text.slice(0, 120))}`);
        this.multi.lines.push(text);
      }
      return;
    }
    const m = /^([1-5][0-5]\d)([ -])/.exec(text);
    if (!m) {
      this.violation(`not a reply line: ${JSON.stringify(text.slice(0, 120))}`);
      return;
    }
    const r: WireReply = { code: Number(m[1]), lines: [text.slice(4)] };
    if (m[2] === '-') this.multi = r;
    else this.replies.push(r);
  }

  private violation(text: string): void {
    if (this.violations.length < 20) this.violations.push(text);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves on the next push (or after `ms`). */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
