/**
 * TLS client certificates, resolved: `clientCerts` merged from its sources, and the CA bundle and CRL
 * file read into the TLS contexts' settings (also on each SIGHUP, runtime/certificate-reload.ts),
 * refusing a bundle without a certificate or a CRL OpenSSL cannot use. No schema here (client-certs.ts
 * declares it): a cluster worker reads the files without loading zod.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { pemCrl, type CertificateUserName, type ClientCertSettings } from '../tls/client-certs.js';
import { ConfigError } from './errors.js';

/** `clientCerts`, resolved: absolute paths, defaults applied. */
export interface ClientCertsConfig {
  ca: string;
  crl?: string;
  required: boolean;
  userName: CertificateUserName;
}

/** What one source sets of `clientCerts` (the flags and the environment set `ca` and `required` only). */
export type ClientCertsLayer = Partial<ClientCertsConfig>;

/** The layers' `clientCerts` merged (each field from the first layer that sets it); undefined without a CA. */
export function mergeClientCerts(layers: (ClientCertsLayer | undefined)[]): ClientCertsConfig | undefined {
  const pick = <K extends keyof ClientCertsConfig>(key: K) => layers.find((l) => l?.[key] !== undefined)?.[key];
  const ca = pick('ca');
  const crl = pick('crl');
  const required = pick('required');
  if (ca === undefined) {
    if (required || crl !== undefined || pick('userName') !== undefined) {
      throw ConfigError.of('clientCerts.ca', 'is required with the other clientCerts options (--client-ca, FTPSD_CLIENT_CA)');
    }
    return undefined;
  }
  return { ca, ...(crl !== undefined ? { crl } : {}), required: required ?? false, userName: pick('userName') ?? 'commonName' };
}

/** Reads the CA bundle and the CRLs; throws a ConfigError naming the field when either is unusable. */
export async function readClientCerts(config: ClientCertsConfig): Promise<ClientCertSettings> {
  const ca = await read(config.ca, 'clientCerts.ca');
  const blocks = ca.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw ConfigError.of('clientCerts.ca', `${config.ca}: no PEM certificate in it`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch {
      throw ConfigError.of('clientCerts.ca', `${config.ca}: not a valid PEM certificate bundle`);
    }
  }
  const crl = config.crl === undefined ? undefined : [pemCrl(await read(config.crl, 'clientCerts.crl'))];
  try {
    createSecureContext({ ca, ...(crl ? { crl } : {}) });
  } catch (err) {
    throw ConfigError.of(crl ? 'clientCerts.crl' : 'clientCerts.ca', `${config.crl ?? config.ca}: unusable (${(err as Error).message})`);
  }
  return { ca, ...(crl ? { crl } : {}), required: config.required };
}

async function read(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw ConfigError.of(field, `cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
}
