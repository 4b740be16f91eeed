/**
 * `ftpsd gen-cert`: writes a self-signed ECDSA P-256 certificate and its key (mode 0600), with SAN
 * localhost, 127.0.0.1, ::1, the host name and any `--name`, and prints the SHA-256 fingerprint.
 */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { generateCertificateFiles } from '../config/certificate.js';
import { ConfigError } from '../config/errors.js';

export interface GenCertFlags {
  cert: string;
  key: string;
  name?: string[];
  force?: boolean;
}

const HOST_NAME = /^(\*\.)?([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export async function genCertCommand(flags: GenCertFlags): Promise<void> {
  for (const name of flags.name ?? []) {
    if (!isIP(name) && !HOST_NAME.test(name)) throw ConfigError.of('--name', `"${name}" is not a host name or IP address`);
  }
  const certPath = resolve(flags.cert);
  const keyPath = resolve(flags.key);
  if (certPath === keyPath) throw ConfigError.of('--key', 'must differ from --cert');
  const made = await generateCertificateFiles(certPath, keyPath, {
    ...(flags.name ? { names: flags.name } : {}),
    force: flags.force ?? false,
  });
  process.stdout.write(
    [`certificate: ${made.certPath}`, `key:         ${made.keyPath} (mode 0600)`, `fingerprint: SHA-256 ${made.fingerprint256}`, ''].join('\n'),
  );
}
