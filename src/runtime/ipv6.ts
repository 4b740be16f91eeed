/**
 * "All interfaces" means IPv6 any (`::`), dual-stack. On hosts without IPv6, listening on `::` fails,
 * so those listeners fall back to IPv4 any (`0.0.0.0`).
 */
import { createServer } from 'node:net';
import type { ListenAddress } from '../server.js';
import { ANY_HOST } from '../config/listen-address.js';

let probe: Promise<boolean> | undefined;

/** Whether a socket can listen on `::` here (checked once). */
export function ipv6Available(): Promise<boolean> {
  probe ??= new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: ANY_HOST, port: 0 }, () => server.close(() => resolve(true)));
  });
  return probe;
}

/** ACME settings with their responder addresses falling back to IPv4 as the listeners do. */
export async function acmeWithIpv4Fallback<T extends { httpListen: ListenAddress; tlsAlpnListen?: ListenAddress | undefined }>(acme: T): Promise<T> {
  const [httpListen] = await withIpv4Fallback([acme.httpListen]);
  const tls = acme.tlsAlpnListen ? (await withIpv4Fallback([acme.tlsAlpnListen]))[0] : undefined;
  return { ...acme, httpListen: httpListen!, ...(tls ? { tlsAlpnListen: tls } : {}) };
}

export async function withIpv4Fallback(addresses: ListenAddress[]): Promise<ListenAddress[]> {
  if (!addresses.some((a) => a.host === ANY_HOST) || (await ipv6Available())) return addresses;
  return addresses.map((a) => (a.host === ANY_HOST ? { host: '0.0.0.0', port: a.port } : a));
}
