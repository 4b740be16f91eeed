/**
 * Listen addresses (`HOST:PORT`) and passive port ranges (`MIN-MAX`), as written on the command line,
 * in environment variables and in the config file. Errors are short phrases meant to follow a field
 * name: `--listen: port must be <= 65535`.
 *
 * Accepted: `127.0.0.1:2121`, `[::1]:2121`, `localhost:2121`, `0.0.0.0:21`, `:::2121` (IPv6 any),
 * `:2121`, `*:2121` and `2121` (all interfaces). Without brackets the last colon separates the port.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { PortRange } from '../data/passive.js';
import type { ListenAddress } from '../server.js';

/** The host for "all interfaces": IPv6 any, dual-stack (see runtime/ipv6.ts for the IPv4-only fallback). */
export const ANY_HOST = '::';

/** A malformed address or range; the message names no field (the caller adds it). */
export class AddressError extends Error {
  override name = 'AddressError';
}

const FORMS = 'expected HOST:PORT, [IPv6]:PORT, :PORT or PORT';

export function parsePort(text: string, min = 0): number {
  if (!/^\d+$/.test(text)) {
    throw new AddressError(text === '' ? 'missing port' : `port must be a number, not "${text}"`);
  }
  const port = Number(text);
  if (port > 65535) throw new AddressError('port must be <= 65535');
  if (port < min) throw new AddressError(`port must be >= ${min}`);
  return port;
}

export function parseListenAddress(input: string): ListenAddress {
  const text = input.trim();
  if (text === '') throw new AddressError(`empty address (${FORMS})`);
  if (/^\d+$/.test(text)) return { host: ANY_HOST, port: parsePort(text) };
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\]:(.*)$/.exec(text);
    if (!m) throw new AddressError(`"${text}": ${FORMS}`);
    const host = m[1]!;
    if (!isIPv6(host)) throw new AddressError(`"${host}" is not an IPv6 address`);
    return { host, port: parsePort(m[2]!) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new AddressError(`"${text}" has no port: ${FORMS}`);
  const host = text.slice(0, colon);
  const port = parsePort(text.slice(colon + 1));
  if (host === '' || host === '*') return { host: ANY_HOST, port };
  if (host.includes(':')) {
    if (!isIPv6(host)) throw new AddressError(`"${host}" is not an IPv6 address (write [ADDRESS]:PORT)`);
    return { host, port };
  }
  if (/^[\d.]+$/.test(host)) {
    if (!isIPv4(host)) throw new AddressError(`"${host}" is not an IPv4 address`);
    return { host, port };
  }
  if (!isHostName(host)) throw new AddressError(`"${host}" is not a host name or IP address`);
  return { host, port };
}

/** A list of addresses separated by commas (environment variables); `off` or nothing is the empty list. */
export function parseListenList(text: string): ListenAddress[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.length === 1 && (items[0] === '' || items[0] === 'off')) return [];
  return items.map(parseListenAddress);
}

/** `MIN-MAX`, both from 1 to 65535, MIN <= MAX. */
export function parsePortRange(input: string): PortRange {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(input);
  if (!m) throw new AddressError(`expected MIN-MAX (e.g. 50000-50100), not "${input}"`);
  const min = parsePort(m[1]!, 1);
  const max = parsePort(m[2]!, 1);
  if (min > max) throw new AddressError(`range start ${min} is greater than its end ${max}`);
  return { min, max };
}

function isHostName(name: string): boolean {
  if (name.length > 253) return false;
  return name.split('.').every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}

/** `127.0.0.1:21`, `[::1]:21`. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
