/**
 * A small pool of LDAP connections (ldapts clients), each with timeouts on connecting and on every
 * request. A connection is used by one login at a time, put back after a clean use and dropped after
 * any error, so a directory that restarts costs one failed login per stale connection at most, and the
 * pool recovers by itself. A connection is never re-opened behind our back: ldapts reconnects
 * transparently, which under StartTLS would go on in clear text, so each client may open one socket only.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import type { Client } from 'ldapts';

export interface LdapPoolOptions {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  /** With `ldap://`: upgrade with StartTLS before anything else. */
  startTls?: boolean;
  /** PEM CA bundle that signs the directory's certificate (default: the system store). */
  ca?: string | Buffer;
  /** Connecting, the TLS handshake and every request (default 5000). */
  timeoutMs?: number;
  /** Idle connections kept (default 4). */
  maxIdle?: number;
  /** Connections in use at once; more logins wait for one, at most `timeoutMs` (default 8). */
  maxOpen?: number;
}

export const DEFAULT_LDAP_TIMEOUT_MS = 5000;

export class LdapPool {
  private readonly idle: Client[] = [];
  private readonly url: URL;
  private closed = false;
  private busy = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly options: LdapPoolOptions) {
    this.url = new URL(options.url);
    if (this.url.protocol !== 'ldap:' && this.url.protocol !== 'ldaps:') throw new Error('the LDAP URL must start with ldap:// or ldaps://');
    if (this.url.protocol === 'ldaps:' && options.startTls) throw new Error('startTls is for ldap:// URLs; ldaps:// is TLS from the start');
  }

  get timeoutMs(): number {
    return this.options.timeoutMs ?? DEFAULT_LDAP_TIMEOUT_MS;
  }

  /** Runs `work` on a connection; the connection goes back to the pool only if `work` resolved. */
  async use<T>(work: (client: Client) => Promise<T>): Promise<T> {
    await this.slot();
    try {
      return await this.useClient(work);
    } finally {
      this.busy--;
      this.waiters.shift()?.();
    }
  }

  /** Waits for room (at most maxOpen connections in use), at most timeoutMs. */
  private async slot(): Promise<void> {
    if (this.busy < (this.options.maxOpen ?? 8)) {
      this.busy++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        this.busy++;
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no LDAP connection free within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private async useClient<T>(work: (client: Client) => Promise<T>): Promise<T> {
    let client = this.idle.pop();
    while (client && !client.isConnected) {
      drop(client);
      client = this.idle.pop();
    }
    client ??= await this.open();
    let reusable = false;
    try {
      const result = await work(client);
      reusable = true;
      return result;
    } finally {
      if (reusable && !this.closed && client.isConnected && this.idle.length < (this.options.maxIdle ?? 4)) this.idle.push(client);
      else drop(client);
    }
  }

  /** Drops the idle connections; later uses open new ones unless closed for good. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) drop(c);
  }

  private async open(): Promise<Client> {
    const timeout = this.timeoutMs;
    const host = this.url.hostname.replace(/^\[|\]$/g, '');
    const tlsOptions: ConnectionOptions = {
      ...(this.options.ca !== undefined ? { ca: this.options.ca } : {}),
      host,
      // SNI takes host names only.
      ...(isIP(host) === 0 ? { servername: host } : {}),
      minVersion: 'TLSv1.2',
    };
    let opened = false;
    const once = () => {
      if (opened) throw new Error('LDAP connection lost');
      opened = true;
    };
    // ldapts is loaded with the first connection: a server without LDAP never holds it.
    const { Client } = await import('ldapts');
    const client = new Client({
      url: this.url.protocol + '//' + this.url.host,
      timeout,
      connectTimeout: timeout,
      // ldapts speaks TLS from the start whenever tlsOptions are given: only for ldaps://.
      ...(this.url.protocol === 'ldaps:' ? { tlsOptions } : {}),
      // Idle pooled connections never keep the process alive.
      createConnection: ((...args: Parameters<typeof netConnect>) => (once(), netConnect(...args).unref())) as typeof netConnect,
      createSecureConnection: ((...args: Parameters<typeof tlsConnect>) => {
        // The StartTLS upgrade passes the open socket; anything else opens one.
        if (!(typeof args[0] === 'object' && args[0] !== null && 'socket' in args[0])) once();
        return tlsConnect(...args).unref();
      }) as typeof tlsConnect,
    });
    if (this.options.startTls) {
      try {
        await withTimeout(client.startTLS({ ...tlsOptions }), timeout, 'StartTLS');
      } catch (err) {
        drop(client);
        throw err;
      }
    }
    return client;
  }
}

function drop(client: Client): void {
  client.unbind().catch(() => {});
}

/** Rejects after `ms` (for the steps ldapts has no timeout of its own for, such as the TLS handshake). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
