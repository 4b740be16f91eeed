/**
 * A bounded reader of DER tag-length headers, enough to pick fields out of an OpenSSL SSL_SESSION
 * (as Node's 'session' event gives it). Lengths of more than three bytes, and headers or lengths that
 * run past the end of the buffer, read as undefined.
 */
export class DerReader {
  /** Offset of the next byte: after header(), the first byte of that element's content. */
  pos = 0;

  constructor(readonly der: Buffer) {}

  /** The next element's tag and content length. */
  header(): { tag: number; len: number } | undefined {
    const { der } = this;
    if (this.pos + 2 > der.length) return undefined;
    const tag = der[this.pos++]!;
    let len = der[this.pos++]!;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 3 || this.pos + n > der.length) return undefined;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[this.pos++]!;
    }
    return { tag, len };
  }
}
