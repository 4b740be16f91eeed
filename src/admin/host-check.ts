/**
 * The admin console's defence against DNS rebinding: a page of another site whose name is made to
 * resolve to the console's address sends that name in `Host` (and its own origin in `Origin`). Requests
 * are answered only for the names the console is known by: its listen address (any address of this
 * host when it listens on a wildcard), the served certificate's names (`*.example.com` covers one
 * label), localhost and loopback addresses, and `admin.hosts`.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface KnownNames {
  /** The host of `adminListen`. */
  listen: string;
  /** The certificate in force (PEM), or undefined on plain HTTP. */
  certificate(): string | undefined;
  /** `admin.hosts`. */
  extra(): readonly string[];
}

/** The host part of a Host header (`[::1]:9443` -> `::1`, `Example.org.:443` -> `example.org`), or undefined when malformed. */
export function hostOf(header: string | undefined): string | undefined {
  const h = header?.trim().toLowerCase();
  if (!h) return undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    const ip = end > 0 ? h.slice(1, end) : '';
    return isIP(ip) === 6 && /^(?::\d{1,5})?$/.test(h.slice(end + 1)) ? ip : undefined;
  }
  const m = /^([^:]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, '') : undefined;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\./.test(host) || /^::ffff:127\./.test(host);
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '::0', '0:0:0:0:0:0:0:0']);

export class HostCheck {
  private certPem: string | undefined;
  private certNames: string[] = [];

  constructor(private readonly known: KnownNames) {}

  /** Whether a request with this Host (or Origin host) is for the console. */
  allows(host: string | undefined): boolean {
    if (host === undefined) return false;
    if (isLoopback(host)) return true;
    const listen = this.known.listen.toLowerCase();
    if (host === listen) return true;
    if (WILDCARDS.has(listen) && isIP(host) !== 0 && localAddresses().has(host)) return true;
    if (this.known.extra().includes(host)) return true;
    return this.names().some((n) => n === host || (n.startsWith('*.') && host.endsWith(n.slice(1)) && !host.slice(0, -(n.length - 1)).includes('.')));
  }

  /** The host of an `Origin` header (`null` and malformed ones: undefined). */
  static originHost(origin: string): string | undefined {
    try {
      const u = new URL(origin);
      return hostOf(u.host);
    } catch {
      return undefined;
    }
  }

  private names(): string[] {
    const pem = this.known.certificate();
    if (pem !== this.certPem) {
      this.certPem = pem;
      try {
        const san = pem ? (new X509Certificate(pem).subjectAltName ?? '') : '';
        this.certNames = san.split(',').map((n) => n.trim().replace(/^(DNS|IP Address):/, '').toLowerCase()).filter((n) => n !== '');
      } catch {
        this.certNames = [];
      }
    }
    return this.certNames;
  }
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.toLowerCase().replace(/%.*$/, ''));
  return out;
}
