/**
 * TLS test tools: certificates of both key types, one-shot handshake probes, the ticket lifetime of a
 * session, and client TLS over a stream we own (to see a close_notify apart from a TCP FIN).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { DerReader } from '../../src/tls/der.js';

export interface Pem {
  cert: string;
  key: string;
  fingerprint256: string;
}

/** A self-signed RSA 2048 certificate (RSA key exchange suites need an RSA certificate). */
export async function rsaCert(cn = 'localhost'): Promise<Pem> {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: `CN=${cn}`,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])],
    },
    webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0],
  );
  const key = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY');
  const pem = cert.toString('pem');
  return { cert: pem, key, fingerprint256: new X509Certificate(pem).fingerprint256 };
}

export type Probe =
  | { ok: true; protocol: string | null; cipher: string; fingerprint256: string | undefined; tls: TLSSocket; session: Promise<Buffer> }
  | { ok: false; error: string };

/** A TLS handshake to `port` (implicit FTPS); the socket is destroyed afterwards unless `keep`. */
export function probe(port: number, options: ConnectionOptions = {}, keep = false): Promise<Probe> {
  return new Promise((resolve) => {
    let tls: TLSSocket;
    try {
      tls = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost', ...options });
    } catch (err) {
      resolve({ ok: false, error: `client: ${(err as Error).message}` });
      return;
    }
    // TLS 1.2 hands the session over during the handshake, TLS 1.3 (tickets) after it.
    const session = new Promise<Buffer>((r) => tls.once('session', r));
    tls.resume();
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), 10_000);
    const done = (p: Probe) => {
      clearTimeout(timer);
      if (!keep || !p.ok) tls.destroy();
      resolve(p);
    };
    tls.once('secureConnect', () =>
      done({
        ok: true,
        protocol: tls.getProtocol(),
        cipher: tls.getCipher().name,
        fingerprint256: tls.getPeerX509Certificate()?.fingerprint256,
        tls,
        session,
      }),
    );
    tls.once('error', (err) => done({ ok: false, error: err.message }));
    tls.once('close', () => done({ ok: false, error: 'closed' }));
  });
}

/**
 * The ticket lifetime hint of an OpenSSL SSL_SESSION (DER, as Node's 'session' event gives it):
 * the top-level field tagged [9], an INTEGER of seconds.
 */
export function ticketLifetimeHint(der: Buffer): number | undefined {
  const reader = new DerReader(der);
  const outer = reader.header();
  if (outer?.tag !== 0x30) return undefined;
  const end = reader.pos + outer.len;
  while (reader.pos < end) {
    const h = reader.header();
    if (!h) return undefined;
    if (h.tag === 0xa9) {
      const inner = reader.header();
      if (inner?.tag !== 0x02) return undefined;
      let v = 0;
      for (let i = 0; i < inner.len; i++) v = v * 256 + der[reader.pos + i]!;
      return v;
    }
    reader.pos += h.len;
  }
  return undefined;
}

/** Raw bytes in, TLS records out; the raw socket's EOF is never passed on. */
class OwnPipe extends Duplex {
  constructor(private readonly raw: Socket) {
    super({ allowHalfOpen: true });
    raw.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) raw.pause();
    });
  }
  override _read(): void {
    this.raw.resume();
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.raw.destroyed) return cb();
    this.raw.write(chunk, (err) => cb(err ?? null));
  }
  override _final(cb: () => void): void {
    cb();
  }
}

export interface OwnedTls {
  tls: TLSSocket;
  /** Resolves when TLS ended: that can only be the server's close_notify, not a TCP FIN. */
  closeNotify: Promise<void>;
  /** Errors seen on the raw TCP socket (a reset shows here). */
  rawErrors: Error[];
  /** Resolves when the TCP connection closed. */
  rawClosed: Promise<void>;
}

/** Client TLS on a data socket, over a stream we own, resuming `session` if given. */
export async function ownedTls(raw: Socket, session?: Buffer, options: ConnectionOptions = {}): Promise<OwnedTls> {
  const rawErrors: Error[] = [];
  raw.on('error', (err) => rawErrors.push(err));
  const rawClosed = new Promise<void>((r) => raw.once('close', () => r()));
  const pipe = new OwnPipe(raw);
  pipe.on('error', () => {});
  const tls = tlsConnect({ socket: pipe, rejectUnauthorized: false, servername: 'localhost', ...(session ? { session } : {}), ...options });
  tls.on('error', () => {});
  const closeNotify = new Promise<void>((r) => tls.once('end', () => r()));
  await new Promise<void>((resolve, reject) => {
    tls.once('secureConnect', resolve);
    tls.once('error', reject);
  });
  return { tls, closeNotify, rawErrors, rawClosed };
}

export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
