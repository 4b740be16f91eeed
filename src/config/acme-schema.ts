/**
 * The `acme:` block (certificates from an RFC 8555 CA, src/acme/), its flags (`--acme-domain`, repeatable;
 * `--acme-http-listen`) and variable (FTPSD_ACME_DOMAINS, comma-separated), and how the layers resolve
 * to the AcmeSettings: the names from the highest layer that gives some, the rest from the file, each
 * with its default. Spread into schema.ts like the other sections.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { ListenAddress } from '../server.js';
import { ACME_DEFAULTS, type AcmeSettings } from '../acme/settings.js';
import type { ConfigIssue } from './errors.js';
import { ConfigError } from './errors.js';
import { parseListenAddress } from './listen-address.js';
import { parsed, text } from './zod-forms.js';

const NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function checkName(value: string): string {
  const name = value.trim().toLowerCase().replace(/\.$/, '');
  if (name.startsWith('*.')) throw new Error(`"${value}": wildcard names need the dns-01 challenge, which ftpsd does not do`);
  if (!NAME.test(name)) throw new Error(`"${value}": not a DNS name (like ftp.example.com)`);
  return name;
}

const domain = text('a DNS name').transform(parsed(checkName));
const domains = z
  .array(domain, { error: 'must be a list of DNS names' })
  .min(1, 'must name at least one DNS name')
  .refine((a) => new Set(a).size === a.length, 'must not repeat a name');
const address = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  text('an address like [::]:80 or 0.0.0.0:80').transform(parsed(parseListenAddress)),
);

const acmeBlock = z
  .strictObject(
    {
      domains: domains.optional().describe('The certificate\'s names (one certificate, all as SANs); also --acme-domain, FTPSD_ACME_DOMAINS.'),
      email: z.email({ error: 'must be an e-mail address' }).optional().describe('Contact address given to the CA (expiry notices).'),
      directory: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional().describe("The CA's directory URL. Default: Let's Encrypt production."),
      staging: z.boolean({ error: 'must be true or false' }).optional().describe("Use Let's Encrypt's staging directory (test first there). Default: false."),
      caBundle: text('a file path').optional().describe("PEM file trusted for the directory's HTTPS (a private CA)."),
      challenge: z.enum(['http-01', 'tls-alpn-01'], { error: 'must be http-01 or tls-alpn-01' }).optional().describe('Default: http-01.'),
      httpListen: address.optional().describe('Where the http-01 responder listens (port 80 of each name must reach it). Default: [::]:80; also --acme-http-listen.'),
      tlsAlpnListen: address.optional().describe('Where the tls-alpn-01 responder listens (port 443 of each name must reach it). Default: [::]:443.'),
      renewDays: z.int({ error: 'must be a whole number of days' }).min(1, 'must be >= 1').optional().describe(`Renew this many days before expiry. Default: ${ACME_DEFAULTS.renewDays}.`),
      eab: z
        .strictObject(
          { keyId: text('a key id'), hmacKey: text('a file path').describe('File holding the base64url HMAC key.') },
          { error: 'must be a mapping {keyId: ID, hmacKey: FILE}' },
        )
        .optional()
        .describe('External account binding (CAs that require one).'),
    },
    { error: 'must be a mapping (domains, email, directory, staging, caBundle, challenge, httpListen, tlsAlpnListen, renewDays, eab)' },
  )
  .describe('Certificates from an ACME CA (Let\'s Encrypt by default), obtained and renewed by ftpsd itself: see docs/acme.md.');

/** Read by hand (a block with its own flags and variable, like tls); the command's only: createServer refuses it. */
export const acmeSchemaShape = { acme: acmeBlock.optional().meta({ reload: 'restart', command: true }) };

type AcmeFile = z.output<typeof acmeBlock>;

/** One source's ACME settings; `field` names where the domains came from (for messages). */
export type AcmeLayer = Partial<Omit<AcmeFile, 'domains' | 'httpListen' | 'tlsAlpnListen'>> & {
  domains?: string[];
  field?: string;
  httpListen?: ListenAddress;
  tlsAlpnListen?: ListenAddress;
};

export const ACME_ENV = { domains: 'FTPSD_ACME_DOMAINS' } as const;

const abs = (base: string, p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p));

function compact<T extends object>(o: T): T | undefined {
  const out = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The file's block; relative paths are relative to the file's directory. */
export function acmeFileLayer(file: AcmeFile | undefined, dir: string): AcmeLayer | undefined {
  if (!file) return undefined;
  return compact({
    ...file,
    field: file.domains ? 'acme.domains' : undefined,
    caBundle: abs(dir, file.caBundle),
    eab: file.eab && { keyId: file.eab.keyId, hmacKey: abs(dir, file.eab.hmacKey)! },
  }) ?? {};
}

function checkValue<T>(schema: z.ZodType<T>, value: unknown, field: string, issues: ConfigIssue[]): T | undefined {
  if (value === undefined) return undefined;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  issues.push({ field, message: r.error.issues[0]?.message ?? 'invalid value' });
  return undefined;
}

/** FTPSD_ACME_DOMAINS (comma-separated). */
export function acmeEnvLayer(value: string | undefined, issues: ConfigIssue[]): AcmeLayer | undefined {
  if (value === undefined || value === '') return undefined;
  const list = checkValue(domains, value.split(',').map((s) => s.trim()), ACME_ENV.domains, issues);
  return list ? { domains: list, field: ACME_ENV.domains } : undefined;
}

/** `--acme-domain NAME` (repeatable) and `--acme-http-listen HOST:PORT`. */
export function acmeFlagLayer(names: string[] | undefined, httpListen: string | undefined, issues: ConfigIssue[]): AcmeLayer | undefined {
  return compact({
    domains: checkValue(domains, names, '--acme-domain', issues),
    field: names ? '--acme-domain' : undefined,
    httpListen: checkValue(address, httpListen, '--acme-http-listen', issues),
  });
}

/**
 * The layers (highest first) to the settings, or undefined when no layer names a domain (ACME off).
 * Each key from the highest layer that sets it.
 */
export function resolveAcme(layers: (AcmeLayer | undefined)[]): (AcmeSettings & { field: string }) | undefined {
  const pick = <K extends keyof AcmeLayer>(key: K): AcmeLayer[K] => layers.find((l) => l?.[key] !== undefined)?.[key];
  const named = layers.find((l) => l?.domains !== undefined);
  if (!named?.domains) {
    if (layers.some((l) => l !== undefined)) throw ConfigError.of('acme.domains', 'is required (or --acme-domain, FTPSD_ACME_DOMAINS): the names of the certificate');
    return undefined;
  }
  const staging = pick('staging') ?? false;
  const directory = pick('directory') ?? (staging ? ACME_DEFAULTS.stagingDirectory : ACME_DEFAULTS.directory);
  const tlsAlpnListen = pick('tlsAlpnListen') ?? ACME_DEFAULTS.tlsAlpnListen;
  const email = pick('email');
  const caBundle = pick('caBundle');
  const eab = pick('eab');
  return {
    field: named.field ?? 'acme.domains',
    domains: named.domains,
    directory,
    challenge: pick('challenge') ?? ACME_DEFAULTS.challenge,
    httpListen: pick('httpListen') ?? ACME_DEFAULTS.httpListen,
    renewDays: pick('renewDays') ?? ACME_DEFAULTS.renewDays,
    tlsAlpnListen,
    ...(email ? { email } : {}),
    ...(caBundle ? { caBundle } : {}),
    ...(eab ? { eab } : {}),
  };
}
