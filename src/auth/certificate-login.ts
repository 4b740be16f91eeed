/**
 * The rule a verified client certificate must meet to vouch for an account (config users and database
 * users alike): verified against the configured CAs, naming the account (its common name, email or DN,
 * as `clientCerts.userName` says), and, when the account has pins, one of the pinned SHA-256
 * fingerprints. Answers why not, in words for the log.
 */
import { certificateUserName, normalizeFingerprint, unverifiedReason, type CertificateUserName, type ClientCertificate } from '../tls/client-certs.js';

/** Why `cert` does not vouch for `account` (undefined: it does). */
export function certificateRefusal(
  account: { readonly name: string; readonly certificates?: readonly string[] | null | undefined },
  cert: ClientCertificate | undefined,
  mode: CertificateUserName = 'commonName',
): string | undefined {
  if (!cert) return 'no client certificate';
  if (!cert.verified) return unverifiedReason(cert);
  const name = certificateUserName(cert, mode);
  if (name === undefined) return `client certificate has no ${mode}`;
  if (name !== account.name) return `client certificate names ${name}`;
  const pins = account.certificates;
  if (pins && pins.length > 0 && !pins.some((pin) => normalizeFingerprint(pin) === normalizeFingerprint(cert.fingerprint))) {
    return 'client certificate not pinned for this user';
  }
  return undefined;
}
