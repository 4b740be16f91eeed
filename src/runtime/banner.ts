/**
 * The start banner on stdout: where ftpsd listens (real ports), what it serves, who may log in, the
 * certificate fingerprint, and a command to try. Passwords appear only when ftpsd generated one.
 * Scripts rely on the `listening: explicit FTPS on HOST:PORT` lines. When the logs are JSON lines
 * (`--log-format json`, or `auto` off a terminal), the banner is one JSON line too (`bannerJsonLine`):
 * `msg: "ready"`, the listeners as fields, and the text lines under `banner`, so every stdout line parses.
 */
import type { AddressInfo } from 'node:net';
import type { Certificate } from '../config/certificate.js';
import type { ResolvedConfig } from '../config/load.js';
import { PASSWORD_ENV } from '../config/defaults.js';
import { formatAddress } from '../config/listen-address.js';

export interface BannerInput {
  version: string;
  explicit: AddressInfo[];
  implicit: AddressInfo[];
  config: Pick<ResolvedConfig, 'root' | 'users' | 'anonymous' | 'generatedPassword' | 'passwordFromEnv' | 'tlsRequired' | 'sessionReuse' | 'configFile' | 'generatedPasswordFile' | 'generatedPasswordKept'> &
    Partial<Pick<ResolvedConfig, 'ldap' | 'authHook'>>;
  certificate: Certificate;
  /** Where /metrics is served, when on. */
  metrics?: AddressInfo | undefined;
  /** The admin console's URL, when on. */
  admin?: string | undefined;
  /** Worker processes (cluster mode), when more than one: the most. */
  workers?: number;
  /** Workers on demand (`workers: auto`): how many started (the others come under load). */
  workersAtStart?: number;
}

const CERT_SOURCE = {
  file: 'from file',
  generated: 'self-signed, generated now',
  reused: 'self-signed, kept from an earlier run',
  acme: 'ACME, from the CA',
} as const;

export function formatBanner(input: BannerInput): string {
  return bannerLines(input).join('\n') + '\n';
}

/** The banner as one JSON line, shaped like the log lines around it (level 30, ISO time, msg). */
export function bannerJsonLine(input: BannerInput, now = new Date()): string {
  const listeners = (kind: 'explicit' | 'implicit') => input[kind].map((a) => ({ kind, address: a.address, port: a.port }));
  const line = {
    level: 30,
    time: now.toISOString(),
    msg: 'ready',
    version: input.version,
    listening: [...listeners('explicit'), ...listeners('implicit')],
    fingerprint: input.certificate.fingerprint256,
    banner: bannerLines(input),
  };
  return JSON.stringify(line) + '\n';
}

/** The banner in the log format: a JSON line when the logs are JSON lines, else the text. */
export function renderBanner(input: BannerInput, json: boolean): string {
  return json ? bannerJsonLine(input) : formatBanner(input);
}

function bannerLines(input: BannerInput): string[] {
  const { config, certificate } = input;
  const lines = [`ftpsd ${input.version} ready`];
  for (const a of input.explicit) lines.push(`listening: explicit FTPS on ${formatAddress(a.address, a.port)}`);
  for (const a of input.implicit) lines.push(`listening: implicit FTPS on ${formatAddress(a.address, a.port)}`);
  if (config.configFile) lines.push(`config:      ${config.configFile}`);
  lines.push(`root:        ${config.root}`);
  const [first] = config.users;
  const kept = config.generatedPasswordFile;
  if (config.generatedPassword !== undefined && first) {
    const where = kept !== undefined ? `; its hash kept in ${kept}, the same at the next start` : '';
    lines.push(`user:        ${first.name}   password: ${config.generatedPassword}   (generated${where}; choose one with ${PASSWORD_ENV} or --user)`);
  } else if (config.generatedPasswordKept === true && first && kept !== undefined) {
    lines.push(`user:        ${first.name}   (password generated on an earlier start, its hash kept in ${kept}; a new one with --new-password)`);
  } else if (config.passwordFromEnv && first) {
    lines.push(`user:        ${first.name}   (password from ${PASSWORD_ENV})`);
  } else if (config.users.length > 0 || (!config.ldap && !config.authHook)) {
    const names = config.users.map((u) => (u.readOnly ? `${u.name} (read-only)` : u.name));
    lines.push(`${names.length > 1 ? 'users:      ' : 'user:       '} ${names.join(', ')}`);
  }
  if (config.ldap) lines.push(`ldap:        ${config.ldap.url}${config.ldap.startTls ? ' (StartTLS)' : ''}, base ${config.ldap.base}`);
  if (config.authHook) lines.push(`auth hook:   ${withoutCredentials(config.authHook.url)}`);
  if (config.anonymous) lines.push(`anonymous:   read-only, home ${config.anonymous.home}`);
  lines.push(`tls:         required: ${config.tlsRequired}, session reuse: ${config.sessionReuse}`);
  const pending = certificate.acme?.pending;
  lines.push(`certificate: ${certificate.certPath} (${CERT_SOURCE[certificate.source]}${pending !== undefined ? `; ACME pending: ${pending}` : ''})`);
  lines.push(`fingerprint: SHA-256 ${certificate.fingerprint256}`);
  if (certificate.names && certificate.names.length > 0) lines.push(`names:       ${certificate.names.join(', ')}`);
  lines.push(`expires:     ${certificate.validTo.toISOString()}`);
  if (input.workers !== undefined && input.workers > 1) {
    const n = input.workersAtStart;
    lines.push(
      n === undefined
        ? `workers:     ${input.workers} processes (passive ports split between them)`
        : `workers:     ${n} process${n === 1 ? '' : 'es'}, up to ${input.workers} on demand (passive ports split between them)`,
    );
  }
  if (input.metrics) lines.push(`metrics:     http://${formatAddress(input.metrics.address, input.metrics.port)}/metrics`);
  if (input.admin) lines.push(`admin:       ${input.admin}`);
  const example = tryCommand(input);
  if (example) lines.push(`try:         ${example}`);
  return lines;
}

function tryCommand({ explicit, implicit, config }: BannerInput): string | undefined {
  const user = config.users[0];
  // Accounts only in LDAP or behind the hook: any of their names.
  const name = user?.name ?? (config.ldap || config.authHook ? 'NAME' : undefined);
  if (name === undefined) return undefined;
  const cred = config.generatedPassword !== undefined ? `${name}:${config.generatedPassword}` : name;
  const target = explicit[0] ?? implicit[0];
  if (!target) return undefined;
  const scheme = explicit[0] ? 'ftp' : 'ftps';
  const flags = explicit[0] ? '--ssl-reqd -k' : '-k';
  return `curl ${flags} -u ${cred} ${scheme}://${urlHost(target.address)}:${target.port}/`;
}

/** A URL as the banner may show it: no user name or password. */
function withoutCredentials(value: string): string {
  const url = new URL(value);
  return url.origin + url.pathname;
}

function urlHost(address: string): string {
  if (address === '::' || address === '0.0.0.0') return 'localhost';
  return address.includes(':') ? `[${address}]` : address;
}
