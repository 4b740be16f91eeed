/**
 * tls/client-certs.ts: the pieces of client-certificate handling that need no handshake (the handshakes
 * are in test/e2e/client-certs.test.ts): user names from a certificate, fingerprints as pins, CRLs as
 * PEM, settings compared for a reload.
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import { certificateUserName, normalizeFingerprint, pemCrl, sameClientCerts, unverifiedReason, type ClientCertificate } from '../../src/tls/client-certs.js';
import { clientPki, type ClientPki } from '../helpers/client-certs.js';
import { TlsContexts } from '../../src/tls/context.js';
import { testCert } from '../helpers/server.js';

let pki: ClientPki;
beforeAll(async () => {
  pki = await clientPki();
}, 60_000);

const cert: ClientCertificate = { verified: true, subject: 'CN=alice,OU=people,O=Example\\, Inc.', commonName: 'alice', email: 'alice@example.org', fingerprint: 'AB:CD' };

describe('client certificates', () => {
  it('the user name per userName mode; a missing part names nobody', () => {
    expect(certificateUserName(cert)).toBe('alice');
    expect(certificateUserName(cert, 'email')).toBe('alice@example.org');
    expect(certificateUserName(cert, 'dn')).toBe('CN=alice,OU=people,O=Example\\, Inc.');
    expect(certificateUserName({ ...cert, email: undefined } as ClientCertificate, 'email')).toBeUndefined();
  });

  it('pins compare with or without colons, in either case', () => {
    expect(normalizeFingerprint('AB:CD:ef')).toBe(normalizeFingerprint('abcdEF'));
    expect(normalizeFingerprint('AB:CD')).not.toBe(normalizeFingerprint('AB:CE'));
  });

  it('the reasons a certificate is not verified', () => {
    expect(unverifiedReason({ ...cert, verified: false, error: 'CERT_HAS_EXPIRED' })).toBe('client certificate expired');
    expect(unverifiedReason({ ...cert, verified: false, error: 'CERT_REVOKED' })).toBe('client certificate revoked');
    expect(unverifiedReason({ ...cert, verified: false, error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })).toBe('not signed by a trusted CA');
  });

  it('a DER CRL becomes PEM that a TLS context takes; PEM stays as it is', async () => {
    const der = await readFile(pki.crlDer);
    const pem = await readFile(pki.crlPem, 'utf8');
    expect(der[0]).toBe(0x30);
    expect(pemCrl(pem)).toBe(pem);
    const converted = pemCrl(der);
    expect(converted).toMatch(/^-----BEGIN X509 CRL-----\n/);
    const ca = await readFile(pki.ca);
    expect(() => createSecureContext({ ca, crl: converted })).not.toThrow();
    expect(() => createSecureContext({ ca: 'x', crl: 'not a crl' })).toThrow();
  });

  it('settings compare by content (a reload switches only when the CA, the CRLs or required changed)', () => {
    const a = { ca: Buffer.from('ca'), crl: ['crl1'], required: false };
    expect(sameClientCerts(a, { ca: 'ca', crl: [Buffer.from('crl1')] })).toBe(true);
    expect(sameClientCerts(a, { ...a, crl: ['crl2'] })).toBe(false);
    expect(sameClientCerts(a, { ...a, required: true })).toBe(false);
    expect(sameClientCerts(a, undefined)).toBe(false);
    expect(sameClientCerts(undefined, undefined)).toBe(true);
  });

  it('a renewed certificate keeps the client-certificate settings unless they are given (undefined turns them off)', async () => {
    const pair = await testCert();
    const clientCerts = { ca: await readFile(pki.ca), required: true };
    const contexts = new TlsContexts({ cert: pair.cert, key: pair.key, clientCerts });
    contexts.update({ cert: pair.cert, key: pair.key });
    expect(contexts.clientCerts).toBe(clientCerts);
    contexts.update({ cert: pair.cert, key: pair.key, clientCerts: undefined });
    expect(contexts.clientCerts).toBeUndefined();
  });
});
