/**
 * A small, bounded, tolerant reader of a TLS ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2), for the
 * first bytes of a protected data connection: before TLS starts, the server looks at what the client
 * offers to resume, and picks the TLS context from that (see src/data/data-channel.ts).
 *
 * It only reads; it never decides whether the hello is acceptable (OpenSSL does that a moment later).
 * Anything it cannot make sense of is `other`, and the connection goes to TLS as it came.
 */

/** What the server needs to know about a ClientHello. */
export interface ClientHelloInfo {
  /** The versions the client offers: the supported_versions list, or the legacy version alone. */
  versions: number[];
  /** legacy_session_id: a TLS 1.2 session to resume, or (TLS 1.3 clients) 32 random bytes. */
  sessionId: Buffer;
  /** A pre_shared_key extension: the client tries to resume a TLS 1.3 session. */
  psk: boolean;
  /** A non-empty session_ticket extension: the client tries to resume a TLS 1.2 session from a ticket. */
  ticket: boolean;
}

export type HelloPeek =
  /** More bytes are needed. */
  | { kind: 'incomplete' }
  | { kind: 'hello'; hello: ClientHelloInfo }
  /** Not a ClientHello this reader understands (garbage, SSLv2, over the size limit). */
  | { kind: 'other'; reason: string };

export const TLS1_2 = 0x0303;
export const TLS1_3 = 0x0304;

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SESSION_TICKET = 35;
const EXT_PRE_SHARED_KEY = 41;
const EXT_SUPPORTED_VERSIONS = 43;
/** Largest TLS record fragment (2^14) plus the expansion TLS 1.2 allows on the wire. */
const MAX_RECORD = 16_384 + 2048;
/** Largest ClientHello we wait for; real ones are under 2 KiB (a few KiB with post-quantum key shares). */
export const MAX_HELLO_BYTES = 32_768;
const MAX_RECORDS = 64;
/** The most bytes `peekClientHello` can need before it answers `hello` or `other`. */
export const MAX_PEEK_BYTES = MAX_HELLO_BYTES + MAX_RECORDS * 5 + MAX_RECORD;

/**
 * Reads the ClientHello at the start of `buf` (the bytes received so far). The handshake message may
 * span several records; every record is bounded, and so are the message and the number of records, so
 * it never waits for more than about 52 KiB (`MAX_PEEK_BYTES`).
 */
export function peekClientHello(buf: Buffer): HelloPeek {
  const fragments: Buffer[] = [];
  let have = 0;
  let need = -1; // handshake message length incl. its 4-byte header, once known
  let pos = 0;
  while (need < 0 || have < need) {
    if (pos + 5 > buf.length) return { kind: 'incomplete' };
    const type = buf[pos]!;
    if (type !== CONTENT_HANDSHAKE) return { kind: 'other', reason: pos === 0 ? 'not a TLS handshake record' : 'handshake interrupted' };
    if (buf[pos + 1] !== 3) return { kind: 'other', reason: 'unknown record version' };
    const len = buf.readUInt16BE(pos + 3);
    if (len === 0 || len > MAX_RECORD) return { kind: 'other', reason: 'bad record length' };
    if (pos + 5 + len > buf.length) return { kind: 'incomplete' };
    fragments.push(buf.subarray(pos + 5, pos + 5 + len));
    have += len;
    pos += 5 + len;
    if (need < 0 && have >= 4) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'other', reason: 'not a ClientHello' };
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_HELLO_BYTES) return { kind: 'other', reason: 'ClientHello too large' };
    }
    if (fragments.length > MAX_RECORDS) return { kind: 'other', reason: 'too many records' };
  }
  const message = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
  const hello = parseHelloBody(message.subarray(4, need));
  return hello ? { kind: 'hello', hello } : { kind: 'other', reason: 'malformed ClientHello' };
}

/** The ClientHello body (after the handshake header); undefined when malformed. */
function parseHelloBody(body: Buffer): ClientHelloInfo | undefined {
  const r = new Reader(body);
  const legacyVersion = r.u16();
  r.skip(32); // random
  const sessionId = r.vector(1);
  if (sessionId === undefined || sessionId.length > 32) return undefined;
  const suites = r.vector(2);
  const compression = r.vector(1);
  if (legacyVersion === undefined || !suites || suites.length < 2 || suites.length % 2 || !compression?.length) return undefined;
  const info: ClientHelloInfo = { versions: [legacyVersion], sessionId: Buffer.from(sessionId), psk: false, ticket: false };
  if (r.done) return info; // no extensions (old clients)
  const extensions = r.vector(2);
  if (!extensions || !r.done) return undefined;
  const e = new Reader(extensions);
  const seen = new Set<number>();
  while (!e.done) {
    const type = e.u16();
    const data = e.vector(2);
    if (type === undefined || data === undefined || seen.has(type)) return undefined;
    seen.add(type);
    if (type === EXT_PRE_SHARED_KEY) {
      if (data.length === 0 || !e.done) return undefined; // must be non-empty and the last extension
      info.psk = true;
    } else if (type === EXT_SESSION_TICKET) {
      info.ticket = data.length > 0;
    } else if (type === EXT_SUPPORTED_VERSIONS) {
      const d = new Reader(data);
      const list = d.vector(1);
      if (!list || !d.done || list.length < 2 || list.length % 2) return undefined;
      info.versions = [];
      for (let i = 0; i < list.length; i += 2) info.versions.push(list.readUInt16BE(i));
    }
  }
  return info;
}

/** Whether the client offers any version up to TLS 1.2 (and so can do without TLS 1.3). */
export function offersTls12(hello: ClientHelloInfo): boolean {
  return hello.versions.some((v) => v >= 0x0301 && v <= TLS1_2);
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  u16(): number | undefined {
    if (this.pos + 2 > this.buf.length) {
      this.pos = this.buf.length + 1;
      return undefined;
    }
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  skip(n: number): void {
    this.pos += n;
  }

  /** A length-prefixed vector (1 or 2 length bytes); undefined past the end. */
  vector(lenBytes: 1 | 2): Buffer | undefined {
    if (this.pos + lenBytes > this.buf.length) {
      this.pos = this.buf.length + 1;
      return undefined;
    }
    const len = lenBytes === 1 ? this.buf[this.pos]! : this.buf.readUInt16BE(this.pos);
    const start = this.pos + lenBytes;
    if (start + len > this.buf.length) {
      this.pos = this.buf.length + 1;
      return undefined;
    }
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }
}
