/**
 * TLS contexts: one for control connections and the data connections that resume their session (they
 * share ticket keys, so a data connection can resume its control connection's session), and one for
 * data connections that do not resume (TLS 1.2, no tickets). Reloading the certificate keeps the ticket
 * keys, so sessions that started before a reload can still open protected data connections. TLS 1.2 is
 * the minimum, with AEAD suites and forward secrecy only, in the server's order of preference.
 */
import { constants, randomBytes } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ClientCertSettings } from './client-certs.js';

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
  /**
   * Ask every handshake for a client certificate, verified against this CA bundle (and CRLs) only. Left
   * out of a new pair (`update`, `prepare`), the settings in force stay (a certificate renewal never
   * drops them); given as `undefined` explicitly, they are turned off.
   */
  clientCerts?: ClientCertSettings | undefined;
}

/** The session id context of every context that asks for client certificates (OpenSSL needs one to resume then). */
const SESSION_ID_CONTEXT = 'ftpsd';

export interface TlsContextOptions {
  /** TLS session (ticket) lifetime in seconds: longer than any transfer. */
  sessionTimeout?: number;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Offer session resumption at all (false for `--session-reuse off`). */
  resumption?: boolean;
}

/** Modern AEAD suites with forward secrecy for TLS 1.2; TLS 1.3 suites are all modern. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export class TlsContexts {
  private readonly ticketKeys = randomBytes(48);
  private context: SecureContext;
  private dataContext: SecureContext;

  private material: TlsMaterial;

  constructor(
    material: TlsMaterial,
    private options: TlsContextOptions = {},
  ) {
    this.material = material;
    [this.context, this.dataContext] = this.buildBoth(material);
  }

  /** The context for new control connections (and data connections that may resume their session). */
  get current(): SecureContext {
    return this.context;
  }

  /**
   * The context for protected data connections that do not resume a session (the data channel reads
   * the ClientHello first to tell). Such a connection is a full handshake, and TLS 1.3 follows that
   * with session tickets (stateful ones even with SSL_OP_NO_TICKET; Node cannot set their number to 0)
   * that an uploading client never reads; a client that closes with unread data makes its kernel reset
   * the connection and drop the end of the upload (lftp does, intermittently). So this context is TLS
   * 1.2 without tickets, which sends nothing after the handshake (unless TLS 1.3 is the configured
   * minimum: then it is the control context). Data connections that resume use `current`, whose
   * resumed handshakes send no new tickets.
   */
  get data(): SecureContext {
    return this.dataContext;
  }

  /** The client-certificate settings in force (undefined: no client certificates are asked for). */
  get clientCerts(): ClientCertSettings | undefined {
    return this.material.clientCerts;
  }

  /** Replaces the certificate and key; throws (and keeps the old ones) if they are unusable. */
  update(material: TlsMaterial): void {
    this.prepare(material)();
  }

  /**
   * Builds contexts for `material` (default: the current pair) and, optionally, a new resumption
   * setting; throws if unusable. Returns the function that switches to them (it cannot fail). The
   * ticket keys stay, so sessions from before still resume.
   */
  prepare(given: TlsMaterial = this.material, options: { resumption?: boolean } = {}): () => void {
    const material = 'clientCerts' in given ? given : { ...given, clientCerts: this.material.clientCerts };
    const previous = this.options;
    if (options.resumption !== undefined) this.options = { ...previous, resumption: options.resumption };
    let built: [SecureContext, SecureContext];
    try {
      built = this.buildBoth(material);
    } finally {
      this.options = previous;
    }
    const next = options.resumption !== undefined ? { ...previous, resumption: options.resumption } : previous;
    return () => {
      this.options = next;
      this.material = material;
      [this.context, this.dataContext] = built;
    };
  }

  private buildBoth(material: TlsMaterial): [SecureContext, SecureContext] {
    const control = this.build(material);
    if (this.options.minVersion === 'TLSv1.3') return [control, control];
    return [control, this.build(material, 'TLSv1.2')];
  }

  /** A context; `maxVersion` TLS 1.2 means the fresh data context, which never offers resumption. */
  private build(material: TlsMaterial, maxVersion?: 'TLSv1.2'): SecureContext {
    const resumption = (this.options.resumption ?? true) && maxVersion === undefined;
    const ctx = createSecureContext({
      cert: material.cert,
      key: material.key,
      minVersion: this.options.minVersion ?? 'TLSv1.2',
      ...(maxVersion ? { maxVersion } : {}),
      ciphers: TLS12_CIPHERS,
      honorCipherOrder: true,
      sessionTimeout: this.options.sessionTimeout ?? 86_400,
      secureOptions: constants.SSL_OP_NO_RENEGOTIATION | (resumption ? 0 : constants.SSL_OP_NO_TICKET),
      // The CA bundle replaces the system store: only these CAs sign client certificates.
      ...(material.clientCerts ? { ca: material.clientCerts.ca } : {}),
      ...(material.clientCerts?.crl?.length ? { crl: material.clientCerts.crl.map((c) => c) as (string | Buffer)[] } : {}),
    });
    if (material.clientCerts) ctx.context.setSessionIdContext(SESSION_ID_CONTEXT);
    if (resumption) ctx.context.setTicketKeys(this.ticketKeys);
    return ctx;
  }
}
