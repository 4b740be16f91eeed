/**
 * The PROXY protocol (HAProxy's spec, versions 1 and 2): the header a TCP proxy sends first on each
 * connection to say who the real client is. This is the one place those untrusted bytes are parsed, and
 * it is strict and bounded (fuzzed in test/unit/proxy-protocol.test.ts):
 *
 * - v1: one text line `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n`, at most 107 bytes with the CRLF, single
 *   spaces, addresses in their normal form (no leading zeros, no IPv6 zone), ports 0-65535 without
 *   leading zeros; or `PROXY UNKNOWN[ anything printable]\r\n`.
 * - v2: the 12-byte signature, version 2, command LOCAL or PROXY, family AF_UNSPEC, AF_INET or AF_INET6
 *   over STREAM (TCP) only (UDP and AF_UNIX are refused), at most `V2_MAX_PAYLOAD` bytes after the
 *   16-byte header; what follows the addresses must be well-formed TLVs (they are skipped).
 *
 * `PROXY UNKNOWN`, a v2 LOCAL command (the proxy's own health checks) and a v2 PROXY with AF_UNSPEC all
 * mean: no client address is known; the connection is taken as coming from the proxy itself.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ProxyEndpoint {
  address: string;
  port: number;
}

export type ProxyHeader =
  | { kind: 'proxy'; version: 1 | 2; family: 4 | 6; source: ProxyEndpoint; destination: ProxyEndpoint }
  /** v1 `UNKNOWN`, v2 PROXY with AF_UNSPEC, v2 LOCAL: use the connection's own addresses. */
  | { kind: 'unknown'; version: 1 | 2 };

export type ParseResult =
  | { status: 'incomplete' }
  /** `length`: the bytes of the header (what follows belongs to the proxied stream). */
  | { status: 'done'; header: ProxyHeader; length: number }
  | { status: 'invalid'; reason: string };

/** Longest v1 header, CRLF included (the spec's figure). */
export const V1_MAX_LENGTH = 107;
/** The v2 signature: `\r\n\r\n\0\r\nQUIT\n`. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Most bytes accepted after the 16-byte v2 header: addresses (36 for IPv6) and TLVs. */
export const V2_MAX_PAYLOAD = 512;
/** The most bytes a header can take: what a reader may need to buffer. */
export const MAX_HEADER_LENGTH = 16 + V2_MAX_PAYLOAD;

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

const incomplete: ParseResult = { status: 'incomplete' };
const invalid = (reason: string): ParseResult => ({ status: 'invalid', reason });

/**
 * Whether `start` (the first bytes of a connection) is, or may become, a PROXY header: `yes` once it
 * matches a whole signature (`PROXY ` or the v2 signature), `maybe` while it is a prefix of one, `no`
 * otherwise.
 */
export function looksLikeProxyHeader(start: Buffer): 'yes' | 'no' | 'maybe' {
  for (const sig of [V1_PREFIX, V2_SIGNATURE]) {
    const n = Math.min(start.length, sig.length);
    if (start.subarray(0, n).equals(sig.subarray(0, n))) return n === sig.length ? 'yes' : 'maybe';
  }
  return 'no';
}

/** Parses a header at the start of `buf`; `incomplete` when more bytes are needed. */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (buf.length === 0) return incomplete;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  return invalid('not a PROXY protocol header');
}

// --- version 1 -------------------------------------------------------------------------------------

function parseV1(buf: Buffer): ParseResult {
  const n = Math.min(buf.length, V1_PREFIX.length);
  if (!buf.subarray(0, n).equals(V1_PREFIX.subarray(0, n))) return invalid('not a PROXY protocol header');
  const limit = Math.min(buf.length, V1_MAX_LENGTH);
  let end = -1;
  for (let i = 0; i < limit; i++) {
    const b = buf[i]!;
    if (b === 0x0d) {
      if (i + 1 >= buf.length) return i + 1 >= V1_MAX_LENGTH ? invalid('v1 header longer than 107 bytes') : incomplete;
      if (buf[i + 1] !== 0x0a) return invalid('v1 header: CR without LF');
      end = i;
      break;
    }
    // Printable ASCII only (the line is text; LF alone, NUL, controls and 8-bit bytes are refused).
    if (b < 0x20 || b > 0x7e) return invalid('v1 header: a byte that is not printable ASCII');
  }
  if (end < 0) return buf.length >= V1_MAX_LENGTH ? invalid('v1 header longer than 107 bytes') : incomplete;
  if (end + 2 > V1_MAX_LENGTH) return invalid('v1 header longer than 107 bytes');
  const line = buf.toString('latin1', 0, end);
  const length = end + 2;
  const parts = line.split(' ');
  const proto = parts[1];
  if (proto === 'UNKNOWN') return { status: 'done', header: { kind: 'unknown', version: 1 }, length };
  if (proto !== 'TCP4' && proto !== 'TCP6') return invalid('v1 header: the protocol must be TCP4, TCP6 or UNKNOWN');
  if (parts.length !== 6) return invalid('v1 header: expected PROXY TCP4|TCP6 SOURCE DESTINATION SPORT DPORT');
  const [, , src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 4 : 6;
  if (!v1Address(src, family) || !v1Address(dst, family)) return invalid(`v1 header: an address that is not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  const sourcePort = v1Port(sport);
  const destinationPort = v1Port(dport);
  if (sourcePort === undefined || destinationPort === undefined) return invalid('v1 header: a port that is not 0-65535');
  return {
    status: 'done',
    header: { kind: 'proxy', version: 1, family, source: { address: src, port: sourcePort }, destination: { address: dst, port: destinationPort } },
    length,
  };
}

function v1Address(text: string, family: 4 | 6): boolean {
  if (family === 4) return isIPv4(text);
  return !text.includes('%') && isIPv6(text);
}

function v1Port(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

// --- version 2 -------------------------------------------------------------------------------------

function parseV2(buf: Buffer): ParseResult {
  const n = Math.min(buf.length, V2_SIGNATURE.length);
  if (!buf.subarray(0, n).equals(V2_SIGNATURE.subarray(0, n))) return invalid('not a PROXY protocol header');
  if (buf.length < 16) return incomplete;
  const versionCommand = buf[12]!;
  const familyProtocol = buf[13]!;
  const payload = buf.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) return invalid('v2 header: version must be 2');
  const command = versionCommand & 0x0f;
  if (command !== 0 && command !== 1) return invalid('v2 header: the command must be LOCAL or PROXY');
  if (payload > V2_MAX_PAYLOAD) return invalid(`v2 header: more than ${V2_MAX_PAYLOAD} bytes of addresses and TLVs`);
  // Check the family before waiting for the payload: a refused family fails at once.
  let family: 4 | 6 | undefined;
  if (familyProtocol === 0x11) family = 4;
  else if (familyProtocol === 0x21) family = 6;
  else if (familyProtocol !== 0x00) return invalid('v2 header: only TCP over IPv4 or IPv6 (or UNSPEC) is accepted');
  const length = 16 + payload;
  if (buf.length < length) return incomplete;
  // LOCAL: the proxy speaks for itself (health checks); whatever address block it sent is ignored.
  if (command === 0) return { status: 'done', header: { kind: 'unknown', version: 2 }, length };
  if (family === undefined) return { status: 'done', header: { kind: 'unknown', version: 2 }, length };
  const body = buf.subarray(16, length);
  const addressBytes = family === 4 ? 12 : 36;
  if (payload < addressBytes) return invalid('v2 header: the address block is too short');
  if (!validTlvs(body.subarray(addressBytes))) return invalid('v2 header: malformed TLVs after the addresses');
  const size = family === 4 ? 4 : 16;
  const source = formatAddress(body.subarray(0, size), family);
  const destination = formatAddress(body.subarray(size, 2 * size), family);
  const sourcePort = body.readUInt16BE(2 * size);
  const destinationPort = body.readUInt16BE(2 * size + 2);
  return {
    status: 'done',
    header: { kind: 'proxy', version: 2, family, source: { address: source, port: sourcePort }, destination: { address: destination, port: destinationPort } },
    length,
  };
}

/** TLVs: type (1 byte), length (2 bytes), value; they must fill the rest exactly. */
function validTlvs(rest: Buffer): boolean {
  let i = 0;
  while (i < rest.length) {
    if (i + 3 > rest.length) return false;
    const len = rest.readUInt16BE(i + 1);
    i += 3 + len;
  }
  return i === rest.length;
}

function formatAddress(bytes: Buffer, family: 4 | 6): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // The canonical (compressed) form, as Node spells socket addresses.
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

// --- building headers (tests, and anything that needs to speak through a proxy-protocol listener) ----

/** A v1 header line for `source` -> `destination` (TCP4 or TCP6 by the source's family). */
export function formatV1(source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  const proto = isIPv4(source.address) ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${proto} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`, 'latin1');
}

/** A v2 PROXY (or LOCAL, without endpoints) header; `tlvs` are appended after the addresses. */
export function formatV2(endpoints?: { source: ProxyEndpoint; destination: ProxyEndpoint }, tlvs: Buffer = Buffer.alloc(0)): Buffer {
  if (!endpoints) {
    const header = Buffer.alloc(16);
    V2_SIGNATURE.copy(header);
    header[12] = 0x20;
    header[13] = 0x00;
    header.writeUInt16BE(tlvs.length, 14);
    return Buffer.concat([header, tlvs]);
  }
  const v4 = isIPv4(endpoints.source.address);
  const size = v4 ? 4 : 16;
  const body = Buffer.alloc(2 * size + 4);
  addressBytes(endpoints.source.address, v4).copy(body, 0);
  addressBytes(endpoints.destination.address, v4).copy(body, size);
  body.writeUInt16BE(endpoints.source.port, 2 * size);
  body.writeUInt16BE(endpoints.destination.port, 2 * size + 2);
  const header = Buffer.alloc(16);
  V2_SIGNATURE.copy(header);
  header[12] = 0x21;
  header[13] = v4 ? 0x11 : 0x21;
  header.writeUInt16BE(body.length + tlvs.length, 14);
  return Buffer.concat([header, body, tlvs]);
}

function addressBytes(address: string, v4: boolean): Buffer {
  if (v4) return Buffer.from(address.split('.').map(Number));
  const [head, tail] = address.includes('::') ? address.split('::') as [string, string] : [address, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
