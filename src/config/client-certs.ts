/**
 * The config schema of TLS client certificates: `clientCerts` in the file (`ca`, `crl`, `required`,
 * `userName`), `--client-ca FILE` / FTPSD_CLIENT_CA and `--client-cert-required`. Merging the sources and
 * reading the files: client-cert-files.ts (re-exported here).
 */
import { z } from 'zod';
import { CERTIFICATE_USER_NAMES } from '../tls/client-certs.js';
import { oneOf } from '../policy-options.js';
import { text } from './zod-forms.js';

export { mergeClientCerts, readClientCerts, type ClientCertsConfig, type ClientCertsLayer } from './client-cert-files.js';

export const clientCertsSchema = z
  .strictObject(
    {
      ca: text('a file path').describe('PEM bundle of the CAs that sign client certificates: the only ones trusted for them (not the system store).'),
      crl: text('a file path').optional().describe('Certificate revocation lists (PEM, one or more; or one DER), reloaded on SIGHUP with the certificate. Default: none.'),
      required: z.boolean({ error: 'must be true or false' }).optional().describe('A TLS handshake without a valid client certificate is refused. Default: false.'),
      userName: oneOf(CERTIFICATE_USER_NAMES)
        .optional()
        .describe('Which part of a verified certificate names the user: commonName, email (the first rfc822Name), dn (the whole subject, RFC 4514). Default: commonName.'),
    },
    { error: 'must be a mapping {ca: FILE, crl: FILE, required: BOOL, userName: commonName|email|dn}' },
  )
  .describe('TLS client certificates: every handshake asks for one, verified against ca (see docs/authentication.md). Default: not asked for.');
