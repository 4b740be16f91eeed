/**
 * The start banner on stdout: where ftpsd listens (real ports), what it serves, who may log in, the
 * certificate fingerprint, and a command to try. Passwords appear only when ftpsd generated one.
 * Scripts rely on the `listening: explicit FTPS on HOST:PORT` lines.
 */
import type { AddressInfo } from 'node:net';
import type { Certificate } from '../config/certificate.js';
import type { ResolvedConfig } from '../config/load.js';
import { ENV } from '../config/sources.js';
import { formatAddress } from '../config/listen-address.js';

export interface BannerInput {
  version: string;
  explicit: AddressInfo[];
  implicit: AddressInfo[];
  config: Pick<ResolvedConfig, 'root' | 'users' | 'anonymous' | 'generatedPassword' | 'passwordFromEnv' | 'tlsRequired' | 'sessionReuse' | 'configFile'>;
  certificate: Certificate;
  /** Where /metrics is served, when on. */
  metrics?: AddressInfo | undefined;
  /** The admin console's URL, when on. */
  admin?: string | undefined;
  /** Worker processes (cluster mode), when more than one. */
  workers?: number;
}

const CERT_SOURCE = {
  file: 'from file',
  generated: 'self-signed, generated now',
  reused: 'self-signed, kept from an earlier run',
} as const;

export function formatBanner(input: BannerInput): string {
  const { config, certificate } = input;
  const lines = [`ftpsd ${input.version} ready`];
  for (const a of input.explicit) lines.push(`listening: explicit FTPS on ${formatAddress(a.address, a.port)}`);
  for (const a of input.implicit) lines.push(`listening: implicit FTPS on ${formatAddress(a.address, a.port)}`);
  if (config.configFile) lines.push(`config:      ${config.configFile}`);
  lines.push(`root:        ${config.root}`);
  const [first] = config.users;
  if (config.generatedPassword !== undefined && first) {
    lines.push(`user:        ${first.name}   password: ${config.generatedPassword}   (generated; choose one with ${ENV.password} or --user)`);
  } else if (config.passwordFromEnv && first) {
    lines.push(`user:        ${first.name}   (password from ${ENV.password})`);
  } else {
    const names = config.users.map((u) => (u.readOnly ? `${u.name} (read-only)` : u.name));
    lines.push(`${names.length > 1 ? 'users:      ' : 'user:       '} ${names.join(', ')}`);
  }
  if (config.anonymous) lines.push(`anonymous:   read-only, home ${config.anonymous.home}`);
  lines.push(`tls:         required: ${config.tlsRequired}, session reuse: ${config.sessionReuse}`);
  lines.push(`certificate: ${certificate.certPath} (${CERT_SOURCE[certificate.source]})`);
  lines.push(`fingerprint: SHA-256 ${certificate.fingerprint256}`);
  if (input.workers !== undefined && input.workers > 1) lines.push(`workers:     ${input.workers} processes (passive ports split between them)`);
  if (input.metrics) lines.push(`metrics:     http://${formatAddress(input.metrics.address, input.metrics.port)}/metrics`);
  if (input.admin) lines.push(`admin:       ${input.admin}`);
  const example = tryCommand(input);
  if (example) lines.push(`try:         ${example}`);
  return lines.join('\n') + '\n';
}

function tryCommand({ explicit, implicit, config }: BannerInput): string | undefined {
  const user = config.users[0];
  if (!user) return undefined;
  const cred = config.generatedPassword !== undefined ? `${user.name}:${config.generatedPassword}` : user.name;
  const target = explicit[0] ?? implicit[0];
  if (!target) return undefined;
  const scheme = explicit[0] ? 'ftp' : 'ftps';
  const flags = explicit[0] ? '--ssl-reqd -k' : '-k';
  return `curl ${flags} -u ${cred} ${scheme}://${urlHost(target.address)}:${target.port}/`;
}

function urlHost(address: string): string {
  if (address === '::' || address === '0.0.0.0') return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}
