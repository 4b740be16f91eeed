/**
 * TLS client certificates (RFC 4217 section 12.2): what a handshake asks for, and what the server learns
 * from the certificate a client presented. Verification is OpenSSL's, against the configured CA bundle
 * only (the contexts are built with `ca`, which replaces the system store) and the configured CRLs; this
 * file reads the outcome off the TLS socket: verified or not (with OpenSSL's reason), the subject in
 * RFC 4514 form, its common name, its first rfc822Name, and the SHA-256 fingerprint that pins and binds.
 */
import type { TLSSocket } from 'node:tls';

/** Client-certificate settings of the TLS contexts (`clientCerts` in the config). */
export interface ClientCertSettings {
  /** PEM bundle of the CAs that sign client certificates (the only trust anchors). */
  readonly ca: string | Buffer;
  /** CRLs (PEM text, or DER), checked for every certificate of the chain. */
  readonly crl?: readonly (string | Buffer)[];
  /** A handshake without a valid client certificate is refused. */
  readonly required?: boolean;
}

/** Whether two client-certificate settings are the same (CA bundle, CRLs, required). */
export function sameClientCerts(a: ClientCertSettings | undefined, b: ClientCertSettings | undefined): boolean {
  if (!a || !b) return a === b;
  const same = (x: string | Buffer, y: string | Buffer) => Buffer.from(x).equals(Buffer.from(y));
  const crlA = a.crl ?? [];
  const crlB = b.crl ?? [];
  return same(a.ca, b.ca) && (a.required ?? false) === (b.required ?? false) && crlA.length === crlB.length && crlA.every((c, i) => same(c, crlB[i]!));
}

/** Which part of a verified certificate names the user. */
export type CertificateUserName = 'commonName' | 'email' | 'dn';
export const CERTIFICATE_USER_NAMES = ['commonName', 'email', 'dn'] as const;

/** A certificate a client presented on a TLS handshake. */
export interface ClientCertificate {
  /** Signed by a configured CA, in its validity period, not revoked. */
  readonly verified: boolean;
  /** Why not, when not verified (OpenSSL's code, e.g. `CERT_HAS_EXPIRED`, `CERT_REVOKED`). */
  readonly error?: string;
  /** The whole subject, RFC 4514 form (most specific RDN first): `CN=alice,O=Example`. */
  readonly subject: string;
  readonly commonName?: string;
  /** The first rfc822Name of the subjectAltName. */
  readonly email?: string;
  /** SHA-256 of the DER certificate, upper-case hex pairs separated by colons. */
  readonly fingerprint: string;
}

/** The certificate the peer of `tls` presented (after its handshake), or undefined when none. */
export function peerCertificate(tls: TLSSocket): ClientCertificate | undefined {
  const x509 = tls.getPeerX509Certificate();
  if (!x509) return undefined;
  const error = verifyError(tls);
  const rdns = x509.subject.split('\n').filter((l) => l !== '');
  const commonName = rdns
    .flatMap((rdn) => rdn.split(' + '))
    .filter((ava) => ava.startsWith('CN='))
    .map((ava) => unescape2253(ava.slice(3)))
    .at(-1);
  const email = firstEmail(x509.subjectAltName);
  return {
    verified: error === undefined,
    ...(error !== undefined ? { error } : {}),
    subject: rdns.reverse().map((rdn) => rdn.split(' + ').join('+')).join(','),
    ...(commonName !== undefined ? { commonName } : {}),
    ...(email !== undefined ? { email } : {}),
    fingerprint: x509.fingerprint256,
  };
}

/**
 * OpenSSL's verdict on the peer's certificate chain (undefined: verified). A TLSSocket made directly (not
 * by a tls.Server, as here: TLS starts on a connection the server already owns) never sets `authorized`,
 * so this asks the handle, as tls.Server does; if that ever goes away, nothing counts as verified.
 */
function verifyError(tls: TLSSocket): string | undefined {
  const handle = (tls as unknown as { ssl?: { verifyError?: () => (Error & { code?: string }) | null } }).ssl;
  if (typeof handle?.verifyError !== 'function') return 'VERIFICATION_UNAVAILABLE';
  const err = handle.verifyError();
  return err ? (err.code ?? err.message) : undefined;
}

/** The user name `cert` gives under `mode` (undefined when that part is missing). */
export function certificateUserName(cert: ClientCertificate, mode: CertificateUserName = 'commonName'): string | undefined {
  return mode === 'dn' ? cert.subject : mode === 'email' ? cert.email : cert.commonName;
}

/**
 * A CRL file's content as PEM, which is what the TLS context takes: PEM text is kept as it is (one file
 * may hold several CRLs), DER (a file starting with an ASN.1 SEQUENCE) is wrapped.
 */
export function pemCrl(content: string | Buffer): string {
  const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (buf[0] !== 0x30) return buf.toString('utf8');
  const lines = buf.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN X509 CRL-----\n${lines.join('\n')}\n-----END X509 CRL-----\n`;
}

/** A fingerprint in a comparable form: hex digits only, lower case (pins may be written with or without colons). */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
}

/** Why `cert` did not verify, in words for the log (`not signed by a trusted CA` unless it is more precise). */
export function unverifiedReason(cert: ClientCertificate): string {
  switch (cert.error) {
    case 'CERT_HAS_EXPIRED':
      return 'client certificate expired';
    case 'CERT_NOT_YET_VALID':
      return 'client certificate not yet valid';
    case 'CERT_REVOKED':
      return 'client certificate revoked';
    default:
      return 'not signed by a trusted CA';
  }
}

/** The first `email:` entry of a subjectAltName string (Node quotes values with special characters as JSON). */
function firstEmail(san: string | undefined): string | undefined {
  if (!san) return undefined;
  const match = /(?:^|, )email:("(?:[^"\\]|\\.)*"|[^,]*)/.exec(san);
  if (!match) return undefined;
  const value = match[1]!;
  if (!value.startsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return undefined;
  }
}

/** The value of an RFC 2253-escaped attribute (`\,` `\+` `\"` `\\` `\<` `\>` `\;` `\=` `\ ` `\#`, and `\XX` hex). */
function unescape2253(value: string): string {
  const bytes: number[] = [];
  const out: string[] = [];
  const flush = () => {
    if (bytes.length > 0) out.push(Buffer.from(bytes.splice(0)).toString('utf8'));
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
      continue;
    }
    flush();
    if (c === '\\' && i + 1 < value.length) out.push(value[++i]!);
    else out.push(c);
  }
  flush();
  return out.join('');
}
