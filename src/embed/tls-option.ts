/**
 * `createServer`'s `tls` option: `'self-signed'`, PEM text or PEM files, checked into a TlsPlan that
 * `listen()` carries out.
 */
import { Buffer } from 'node:buffer';
import { checkPair } from '../config/certificate.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import { isObject } from './option-forms.js';

export type TlsPlan =
  | { kind: 'pem'; cert: string | Buffer; key: string | Buffer; fingerprint256: string }
  | { kind: 'files'; certFile: string; keyFile: string }
  /** `persist`: kept in (and reused from) `config.stateDir`; else made in memory at each start. */
  | { kind: 'self-signed'; persist: boolean };


const PEM_FORMS = "must be 'self-signed', {cert, key} (PEM text) or {certFile, keyFile} (file paths)";

export function planTls(tls: unknown, stateDir: unknown, issues: ConfigIssue[]): TlsPlan | undefined {
  if (tls === undefined) return undefined;
  if (tls === 'self-signed') return { kind: 'self-signed', persist: stateDir !== undefined };
  if (!isObject(tls)) {
    issues.push({ field: 'tls', message: PEM_FORMS });
    return undefined;
  }
  const before = issues.length;
  for (const key of Object.keys(tls)) {
    if (!['cert', 'key', 'certFile', 'keyFile'].includes(key)) issues.push({ field: `tls.${key}`, message: 'unknown option' });
  }
  const pem = 'cert' in tls || 'key' in tls;
  const files = 'certFile' in tls || 'keyFile' in tls;
  if (pem && files) {
    issues.push({ field: 'tls', message: 'give either {cert, key} (PEM text) or {certFile, keyFile} (file paths), not both' });
    return undefined;
  }
  if (!pem && !files) {
    if (issues.length === before) issues.push({ field: 'tls', message: PEM_FORMS });
    return undefined;
  }
  if (pem) {
    for (const key of ['cert', 'key'] as const) {
      const v = tls[key];
      if (v === undefined) issues.push({ field: `tls.${key}`, message: 'is required' });
      else if (!((typeof v === 'string' && v !== '') || Buffer.isBuffer(v))) issues.push({ field: `tls.${key}`, message: 'must be PEM text (a string or a Buffer)' });
    }
    if (issues.length > before) return undefined;
    const cert = tls.cert as string | Buffer;
    const key = tls.key as string | Buffer;
    try {
      const { fingerprint256 } = checkPair(cert.toString(), key.toString(), { cert: 'tls.cert', key: 'tls.key' });
      return { kind: 'pem', cert, key, fingerprint256 };
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
      return undefined;
    }
  }
  for (const key of ['certFile', 'keyFile'] as const) {
    const v = tls[key];
    if (v === undefined) issues.push({ field: `tls.${key}`, message: 'is required' });
    else if (typeof v !== 'string' || v === '') issues.push({ field: `tls.${key}`, message: 'must be a file path' });
  }
  if (issues.length > before) return undefined;
  return { kind: 'files', certFile: tls.certFile as string, keyFile: tls.keyFile as string };
}
