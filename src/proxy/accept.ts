/**
 * The PROXY protocol at accept: which peers are trusted proxies, reading their header off the socket
 * (bounded, with a deadline) before anything else happens on the connection, and refusing a header from
 * anyone else.
 *
 * With a TCP proxy in front (HAProxy `mode tcp`, `send-proxy` / `send-proxy-v2`), only the control
 * connection goes through the proxy: the header names the real client, and that address is what the
 * server uses for everything (access lists, bans, session caps, logs, events, and the checks that a
 * data connection comes from, or goes to, the client's own address). Data connections reach ftpsd
 * directly from the client.
 */
import type { Socket } from 'node:net';
import { AccessList } from '../security/access-list.js';
import { looksLikeProxyHeader, MAX_HEADER_LENGTH, parseProxyHeader, type ProxyHeader } from './proxy-protocol.js';

/** The networks whose connections must start with a PROXY header. */
export class TrustedProxies {
  private readonly list: AccessList | undefined;

  /** Throws on a malformed network. */
  constructor(readonly networks: readonly string[]) {
    // An allow list with nothing denied: "is this peer one of the proxies".
    this.list = networks.length > 0 ? new AccessList(networks, []) : undefined;
  }

  get enabled(): boolean {
    return this.list !== undefined;
  }

  trusts(address: string): boolean {
    return this.list?.allows(address) ?? false;
  }
}

export class ProxyHeaderError extends Error {
  override name = 'ProxyHeaderError';
}

/**
 * Reads one PROXY header from `socket` (a trusted proxy's connection). Resolves with the header once it
 * is complete; bytes after it (a TLS ClientHello on the implicit port, say) are put back, unread, and
 * the socket is left paused for its next owner. Rejects on a malformed header, on more than a header's
 * worth of bytes without one, when the connection ends, or after `timeoutMs`.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyHeader> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => fail(`no PROXY header within ${timeoutMs} ms`), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    const fail = (reason: string) => {
      cleanup();
      reject(new ProxyHeaderError(reason));
    };
    const onEnd = () => fail('the connection ended before a complete PROXY header');
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const result = parseProxyHeader(buffered.subarray(0, MAX_HEADER_LENGTH));
      if (result.status === 'incomplete') {
        if (buffered.length >= MAX_HEADER_LENGTH) fail('no complete PROXY header in its maximum length');
        return;
      }
      if (result.status === 'invalid') {
        fail(result.reason);
        return;
      }
      socket.pause();
      cleanup();
      const rest = buffered.subarray(result.length);
      if (rest.length > 0) socket.unshift(rest);
      resolve(result.header);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/**
 * On a server with trusted proxies, a connection from anywhere else must not start with a PROXY header
 * (it would be a client claiming someone else's address). Watches the first bytes of `socket` and calls
 * `onHeader` (which closes it) if they are one; stops watching at the first byte that rules it out.
 */
export function guardUntrusted(socket: Socket, onHeader: () => void): void {
  let start: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    start = Buffer.concat([start, chunk.subarray(0, 16)]);
    const verdict = looksLikeProxyHeader(start);
    if (verdict === 'maybe') return;
    socket.off('data', onData);
    if (verdict === 'yes') onHeader();
  };
  // First in line, so the header is caught before the control channel acts on the same bytes.
  socket.prependListener('data', onData);
}
