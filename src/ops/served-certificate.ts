/**
 * What the banner and /metrics say about the certificate in use: its source (file, generated: ftpsd's
 * self-signed one, acme: from the CA), names, fingerprint and expiry, read from the PEM itself.
 */
import { X509Certificate } from 'node:crypto';
import { certificateNames } from '../acme/store.js';

export interface ServedCertificate {
  source: 'file' | 'generated' | 'acme';
  names: string[];
  fingerprint256: string;
  validTo: Date;
}

/** `acme`: ACME is on (then any certificate but ftpsd's self-signed one came from the CA). */
export function servedCertificate(pem: string, acme: boolean): ServedCertificate | undefined {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const selfSigned = x509.subject === x509.issuer && /O=ftpsd self-signed/.test(x509.subject);
  return {
    source: selfSigned ? 'generated' : acme ? 'acme' : 'file',
    names: certificateNames(x509),
    fingerprint256: x509.fingerprint256,
    validTo: new Date(x509.validTo),
  };
}
