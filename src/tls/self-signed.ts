/**
 * A self-signed ECDSA P-256 certificate for the embedded default, so `npm start` serves FTPS at once.
 * Its SAN covers localhost, 127.0.0.1, ::1 and the host name; the SHA-256 fingerprint is printed so a
 * user can pin it.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

export interface GeneratedCert {
  cert: string;
  key: string;
  fingerprint256: string;
}

export interface GenerateOptions {
  /** Extra DNS names or IP addresses for the SAN. */
  names?: string[];
  days?: number;
}

export async function generateSelfSigned(options: GenerateOptions = {}): Promise<GeneratedCert> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const host = hostname();
  const dns = new Set(['localhost', host, ...(options.names ?? []).filter((n) => !isIp(n))]);
  const ips = new Set(['127.0.0.1', '::1', ...(options.names ?? []).filter(isIp)]);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + (options.days ?? 825) * 86_400_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01' + randomBytes(15).toString('hex'),
      name: `CN=${host.replace(/[,=+<>#;\\"]/g, '') || 'localhost'}, O=ftpsd self-signed`,
      notBefore,
      notAfter,
      signingAlgorithm: alg,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([
          ...[...dns].map((value) => ({ type: 'dns' as const, value })),
          ...[...ips].map((value) => ({ type: 'ip' as const, value })),
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    },
    webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0],
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const key = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  const certPem = cert.toString('pem');
  return { cert: certPem, key, fingerprint256: new X509Certificate(certPem).fingerprint256 };
}

function isIp(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':');
}
