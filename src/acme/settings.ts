/**
 * ACME settings as the rest of the code uses them (the config's `acme:` block, flags and environment
 * resolved), and their defaults. The directory URLs of Let's Encrypt are the library's own constants.
 */
import type { ListenAddress } from '../server.js';

export type AcmeChallenge = 'http-01' | 'tls-alpn-01';

export interface AcmeSettings {
  /** The names of the one certificate (all SANs; the first is its subject). */
  domains: string[];
  /** Contact address given to the CA (expiry notices). */
  email?: string | undefined;
  /** The CA's directory URL. */
  directory: string;
  /** PEM file trusted for the directory's HTTPS (a private CA, Pebble). */
  caBundle?: string | undefined;
  challenge: AcmeChallenge;
  /** Where the http-01 responder listens. */
  httpListen: ListenAddress;
  /** Where the tls-alpn-01 responder listens (the name's port 443, often forwarded). */
  tlsAlpnListen?: ListenAddress | undefined;
  /** Renew this many days before expiry. */
  renewDays: number;
  /** External account binding: key id and the file holding the base64url HMAC key. */
  eab?: { keyId: string; hmacKey: string } | undefined;
}

export const ACME_DEFAULTS = {
  directory: 'https://acme-v02.api.letsencrypt.org/directory',
  stagingDirectory: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  challenge: 'http-01' as AcmeChallenge,
  httpListen: { host: '::', port: 80 } as ListenAddress,
  tlsAlpnListen: { host: '::', port: 443 } as ListenAddress,
  renewDays: 30,
};
