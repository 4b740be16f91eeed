/**
 * policy.ts: each security policy decided in one place. The protocol tests (test/commands/tls.test.ts,
 * ccc.test.ts, data-connections.test.ts, test/hardening) check the replies; this pins the table.
 */
import { describe, expect, it } from 'vitest';
import { cccAllowed, cccOffered, clearDataAllowed, dataBinding, sessionReuse, sessionReuseFor, tlsRequiredFor, type DataBindingFacts } from '../../src/policy.js';
import type { ClientCertificate } from '../../src/tls/client-certs.js';

const PLAIN = { secure: false, loggedIn: false };

describe('policy', () => {
  it('TLS required for a command: none under off; credentials always, others until a login, under login and all', () => {
    expect(tlsRequiredFor({ tlsRequired: 'off' }, { credentials: true }, PLAIN)).toBe(false);
    for (const tlsRequired of ['login', 'all'] as const) {
      expect(tlsRequiredFor({ tlsRequired }, {}, PLAIN)).toBe(true);
      expect(tlsRequiredFor({ tlsRequired }, { beforeTls: true }, PLAIN)).toBe(false);
      expect(tlsRequiredFor({ tlsRequired }, {}, { secure: false, loggedIn: true })).toBe(false);
      // After CCC: a logged-in session still may not send credentials in clear.
      expect(tlsRequiredFor({ tlsRequired }, { credentials: true, beforeTls: true }, { secure: false, loggedIn: true })).toBe(true);
      expect(tlsRequiredFor({ tlsRequired }, { credentials: true }, { secure: true, loggedIn: false })).toBe(false);
    }
  });

  it('CCC: not offered under all; under login only after a login', () => {
    expect([cccOffered({ tlsRequired: 'off' }), cccOffered({ tlsRequired: 'login' }), cccOffered({ tlsRequired: 'all' })]).toEqual([true, true, false]);
    expect(cccAllowed({ tlsRequired: 'off' }, false)).toBe(true);
    expect(cccAllowed({ tlsRequired: 'login' }, false)).toBe(false);
    expect(cccAllowed({ tlsRequired: 'login' }, true)).toBe(true);
    expect(cccAllowed({ tlsRequired: 'all' }, true)).toBe(false);
  });

  it('clear data: never under tlsRequired all; under tls-sessions only in sessions that never used TLS', () => {
    expect(clearDataAllowed({ tlsRequired: 'all', dataProtection: 'optional' }, false)).toBe(false);
    expect(clearDataAllowed({ tlsRequired: 'login', dataProtection: 'tls-sessions' }, false)).toBe(true);
    expect(clearDataAllowed({ tlsRequired: 'login', dataProtection: 'tls-sessions' }, true)).toBe(false);
    expect(clearDataAllowed({ tlsRequired: 'off', dataProtection: 'optional' }, true)).toBe(true);
  });

  it('session reuse: require binds and requires, allow binds, off does neither', () => {
    expect(sessionReuse({ sessionReuse: 'require' })).toEqual({ bind: true, require: true, orClientCert: false });
    expect(sessionReuse({ sessionReuse: 'require-or-client-cert' })).toEqual({ bind: true, require: true, orClientCert: true });
    expect(sessionReuse({ sessionReuse: 'allow' })).toEqual({ bind: true, require: false, orClientCert: false });
    expect(sessionReuse({ sessionReuse: 'off' })).toEqual({ bind: false, require: false, orClientCert: false });
  });
});

describe('dataBinding: a data connection belongs to its control connection', () => {
  const cert = (fingerprint: string, verified = true): ClientCertificate => ({ verified, subject: 'CN=alice', commonName: 'alice', fingerprint });
  const facts = (over: Partial<DataBindingFacts> = {}): DataBindingFacts => ({ ownsSession: false, controlCert: undefined, dataCert: undefined, certRequired: false, ...over });
  const require = sessionReuse({ sessionReuse: 'require' });
  const orCert = sessionReuse({ sessionReuse: 'require-or-client-cert' });
  const allow = sessionReuse({ sessionReuse: 'allow' });

  it('require: only a resumed session of its own', () => {
    expect(dataBinding(require, facts({ ownsSession: true }))).toBeUndefined();
    expect(dataBinding(require, facts())).toBe('reuse');
    expect(dataBinding(require, facts({ controlCert: cert('AA'), dataCert: cert('AA') }))).toBe('reuse');
  });

  it('require-or-client-cert: or the same verified certificate on both', () => {
    expect(dataBinding(orCert, facts({ controlCert: cert('AA'), dataCert: cert('AA') }))).toBeUndefined();
    expect(dataBinding(orCert, facts({ controlCert: cert('AA'), dataCert: cert('AA', false) }))).toBe('reuse');
    expect(dataBinding(orCert, facts({ controlCert: cert('AA', false), dataCert: cert('AA', false) }))).toBe('reuse');
    expect(dataBinding(orCert, facts({ controlCert: cert('AA') }))).toBe('reuse');
    expect(dataBinding(orCert, facts({ dataCert: cert('AA') }))).toBe('reuse');
    expect(dataBinding(orCert, facts({ ownsSession: true }))).toBeUndefined();
  });

  it('a data connection presenting another certificate than the control connection is refused under every policy', () => {
    for (const reuse of [require, orCert, allow]) {
      expect(dataBinding(reuse, facts({ ownsSession: true, controlCert: cert('AA'), dataCert: cert('BB') }))).toBe('certificate');
    }
    expect(dataBinding(allow, facts({ controlCert: cert('AA'), dataCert: cert('AA') }))).toBeUndefined();
    expect(dataBinding(allow, facts({ controlCert: cert('AA') }))).toBeUndefined();
  });

  it('required: every data connection presents a verified certificate', () => {
    expect(dataBinding(allow, facts({ certRequired: true }))).toBe('certificate');
    expect(dataBinding(allow, facts({ certRequired: true, dataCert: cert('AA', false) }))).toBe('certificate');
    expect(dataBinding(allow, facts({ certRequired: true, dataCert: cert('AA') }))).toBeUndefined();
  });

  it('sessionReuseAllow: its users and client networks get allow under require; others keep require; after CCC nobody is required', () => {
    const security = (users: string[], networks: string[]) => ({ sessionReuseAllow: { users, networks } }) as never;
    const open = { cleared: false, sessionKnown: true };
    const settings = { sessionReuse: 'require' as const, security: security(['backup-job'], ['192.0.2.0/24']) };
    expect(sessionReuseFor(settings, open, { user: 'alice', remoteAddress: '198.51.100.7' }).require).toBe(true);
    expect(sessionReuseFor(settings, open, { user: 'backup-job', remoteAddress: '198.51.100.7' }).require).toBe(false);
    expect(sessionReuseFor(settings, open, { user: 'alice', remoteAddress: '192.0.2.9' }).require).toBe(false);
    expect(sessionReuseFor(settings, open, { user: 'alice', remoteAddress: '::ffff:192.0.2.9' }).require).toBe(false);
    expect(sessionReuseFor(settings, open, { user: undefined, remoteAddress: '203.0.113.1' }).require).toBe(true);
    expect(sessionReuseFor(settings, { cleared: true, sessionKnown: true }, { user: 'alice', remoteAddress: '198.51.100.7' }).require).toBe(false);
    // The exception never turns binding off: resumption is still offered.
    expect(sessionReuseFor(settings, open, { user: 'backup-job', remoteAddress: '198.51.100.7' }).bind).toBe(true);
    const none = { sessionReuse: 'require' as const, security: security([], []) };
    expect(sessionReuseFor(none, open, { user: 'backup-job', remoteAddress: '192.0.2.9' }).require).toBe(true);
  });
});
