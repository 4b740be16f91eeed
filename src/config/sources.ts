/**
 * The three sources of settings, each turned into the same typed layer: the config file, the
 * environment (FTPSD_*) and the command line. Every value is checked by the same field schema, and an
 * error names the field as the user wrote it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { GlobalMeta, z } from 'zod';
import type { ConfigIssue } from './errors.js';
import { PASSWORD_ENV } from './defaults.js';
import { fields, userName, type ConfigFile } from './schema.js';
import { pickUserPolicy, type UserPolicy } from './user-policy.js';
import type { DeliverySettings } from './ops-schema.js';
import type { HeartbeatSettings } from './cluster-schema.js';
import type { ClientCertsLayer } from './client-certs.js';
import { ACME_ENV, acmeEnvLayer, acmeFileLayer, acmeFlagLayer, type AcmeLayer } from './acme-schema.js';

export type Password = { hash: string } | { plain: string };

/**
 * One source's settings: the config file's options (schema.ts), with paths absolute (users' homes still
 * relative to root), and the few read by hand in other forms (users' passwords, certificate files, runAs).
 */
export type Layer = Omit<ConfigFile, 'users' | 'anonymous' | 'tls' | 'clientCerts' | 'runAs' | 'hookDelivery' | 'workerHeartbeat' | 'acme'> & {
  /** `password` may be missing only with `login: certificate`. */
  users?: ({ name: string; password?: Password; home?: string; readOnly?: boolean } & UserPolicy)[];
  /** `false`: off (FTPSD_ANONYMOUS=false overrides the file). */
  anonymous?: { home?: string } | false;
  tls?: { cert: string; key: string; fields: { cert: string; key: string } };
  /** TLS client certificates (config/client-certs.ts): the flags and the environment set `ca` and `required` only. */
  clientCerts?: ClientCertsLayer;
  runAs?: { user?: string; group?: string };
  hookDelivery?: Partial<DeliverySettings>;
  workerHeartbeat?: Partial<HeartbeatSettings>;
  /** Certificates by ACME (config/acme-schema.ts): the block, --acme-domain/--acme-http-listen, FTPSD_ACME_DOMAINS. */
  acme?: AcmeLayer;
};

/** The settings only the command has (no config key): read by hand below and in cli/main.ts. */
interface CommandFlags {
  config?: string;
  user?: string[];
  anonymous?: boolean;
  cert?: string;
  key?: string;
  clientCa?: string;
  clientCertRequired?: boolean;
  acmeDomain?: string[];
  acmeHttpListen?: string;
  /** A new generated password for the default account, replacing the kept one. */
  newPassword?: boolean;
}

/**
 * Command-line flags as commander hands them over (unvalidated), under commander's names: `--pasv-ports`
 * is `pasvPorts`, `--hook` is `hook` (see flagKey). Every other flag comes from an option's `flag` metadata.
 */
export type CliFlags = CommandFlags & { [flag: string]: string | string[] | boolean | undefined };

type FieldName = keyof typeof fields;
const FIELD_NAMES = Object.keys(fields) as FieldName[];
/** Fields with a variable and a flag that make one option together (runAs): read by hand. */
const BY_HAND: readonly FieldName[] = ['runAsUser', 'runAsGroup', 'ldapUrl'];

/** An option's metadata (policy-options.ts declares its keys). */
export function optionMeta(key: FieldName): GlobalMeta {
  return fields[key].meta() ?? {};
}

/** The options with a flag, in the order of the schema. */
export const FLAG_OPTIONS: readonly FieldName[] = FIELD_NAMES.filter((k) => optionMeta(k).flag !== undefined);

/** `--pasv-ports <min-max>` -> `--pasv-ports`. */
export const flagName = (flag: string): string => flag.split(' ')[0]!;
/** commander's key of a flag: `--pasv-ports <min-max>` -> `pasvPorts`. */
export const flagKey = (flag: string): string => flagName(flag).slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Validates one value with its field schema; problems go to `issues` under the name `field`. */
function check<K extends FieldName>(key: K, value: unknown, field: string, issues: ConfigIssue[]): z.output<(typeof fields)[K]> | undefined {
  if (value === undefined) return undefined;
  const result = fields[key].safeParse(value);
  if (result.success) return result.data as z.output<(typeof fields)[K]>;
  issues.push({ field, message: result.error.issues[0]?.message ?? 'invalid value' });
  return undefined;
}

/** Drops undefined values so that layers merge with `??` semantics. */
function compact<T extends object>(layer: T): T {
  return Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)) as T;
}

/** An s3:// root is a bucket, not a path: kept as given. */
const abs = (base: string, p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) || p.startsWith('s3://') ? p : resolve(base, p));
/** A lone `off` in a list means none (the schema reads the string `off`). */
const one = (v: string[] | undefined) => (v?.length === 1 && v[0] === 'off' ? 'off' : v);

/**
 * Every option of the schema that `read` gives a raw value for (with the name errors use), checked by its
 * field schema; a path option's relative value is resolved against `base`.
 */
function schemaLayer(read: (key: FieldName, meta: GlobalMeta) => [unknown, string] | undefined, base: string, issues: ConfigIssue[]): Layer {
  const out: Record<string, unknown> = {};
  for (const key of FIELD_NAMES) {
    if (BY_HAND.includes(key)) continue;
    const meta = optionMeta(key);
    const raw = read(key, meta);
    if (raw === undefined) continue;
    const value = check(key, raw[0], raw[1], issues);
    out[key] = meta.path && typeof value === 'string' ? abs(base, value) : value;
  }
  return out as Layer;
}

/** The config file's options, or createServer's (whose passwords may be plain: embed/option-forms.ts). */
export type FileOptions = Omit<ConfigFile, 'users'> & {
  users?: (Omit<NonNullable<ConfigFile['users']>[number], 'password'> & { password?: string | Password | undefined })[] | undefined;
};

/** The file's layer: relative paths are relative to the file's directory. */
export function fileLayer(file: FileOptions, dir: string): Layer {
  const out: Record<string, unknown> = { ...file };
  for (const key of FIELD_NAMES) {
    if (optionMeta(key).path && typeof out[key] === 'string') out[key] = abs(dir, out[key] as string);
  }
  return compact({
    ...(out as Layer),
    users: file.users?.map((u) => ({
      name: u.name,
      ...(u.password !== undefined ? { password: typeof u.password === 'string' ? { hash: u.password } : u.password } : {}),
      home: u.home,
      readOnly: u.readOnly ?? false,
      ...pickUserPolicy(u),
    })),
    tls: file.tls && {
      cert: abs(dir, file.tls.cert)!,
      key: abs(dir, file.tls.key)!,
      fields: { cert: 'tls.cert', key: 'tls.key' },
    },
    clientCerts: file.clientCerts && compact({ ...file.clientCerts, ca: abs(dir, file.clientCerts.ca)!, crl: abs(dir, file.clientCerts.crl) }),
    runAs: file.runAs && { user: file.runAs.user, ...(file.runAs.group !== undefined ? { group: file.runAs.group } : {}) },
    ldap: file.ldap && {
      ...file.ldap,
      ...(file.ldap.ca !== undefined ? { ca: abs(dir, file.ldap.ca)! } : {}),
      ...(file.ldap.bindPasswordFile !== undefined ? { bindPasswordFile: abs(dir, file.ldap.bindPasswordFile)! } : {}),
    },
    acme: acmeFileLayer(file.acme, dir),
    s3: file.s3 && {
      ...file.s3,
      ...(file.s3.secretAccessKeyFile !== undefined ? { secretAccessKeyFile: abs(dir, file.s3.secretAccessKeyFile)! } : {}),
    },
  });
}

/** Each option's environment variable (its `env` metadata), and those of the settings read by hand. */
export const ENV = {
  ...(Object.fromEntries(FIELD_NAMES.flatMap((k) => (optionMeta(k).env ? [[k, optionMeta(k).env!]] : []))) as { readonly [K in FieldName]: string }),
  password: PASSWORD_ENV,
  config: 'FTPSD_CONFIG',
  cert: 'FTPSD_CERT',
  key: 'FTPSD_KEY',
  clientCa: 'FTPSD_CLIENT_CA',
  anonymous: 'FTPSD_ANONYMOUS',
  acmeDomains: ACME_ENV.domains,
} as const;

/** The environment's layer (empty variables count as unset); lists are comma-separated. */
export function envLayer(env: NodeJS.ProcessEnv, cwd: string, issues: ConfigIssue[]): Layer {
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  const list = (name: string) => get(name)?.split(',').map((s) => s.trim());
  const cert = get(ENV.cert);
  const key = get(ENV.key);
  if ((cert === undefined) !== (key === undefined)) {
    issues.push(cert === undefined ? { field: ENV.cert, message: `is required with ${ENV.key}` } : { field: ENV.key, message: `is required with ${ENV.cert}` });
  }
  const anonymous = check('watchConfig', get(ENV.anonymous), ENV.anonymous, issues);
  const runAsUser = check('runAsUser', get(ENV.runAsUser), ENV.runAsUser, issues);
  const runAsGroup = check('runAsGroup', get(ENV.runAsGroup), ENV.runAsGroup, issues);
  return compact({
    tls: cert !== undefined && key !== undefined ? { cert: abs(cwd, cert)!, key: abs(cwd, key)!, fields: { cert: ENV.cert, key: ENV.key } } : undefined,
    clientCerts: get(ENV.clientCa) === undefined ? undefined : { ca: abs(cwd, get(ENV.clientCa))! },
    anonymous: anonymous === undefined ? undefined : anonymous ? {} : false,
    runAs: runAsUser !== undefined || runAsGroup !== undefined ? compact({ user: runAsUser, group: runAsGroup }) : undefined,
    ldap: urlOnly(check('ldapUrl', get(ENV.ldapUrl), ENV.ldapUrl, issues)),
    acme: acmeEnvLayer(get(ENV.acmeDomains), issues),
    ...schemaLayer((_, { env: name, list: isList }) => (name ? [isList ? one(list(name)) : get(name), name] : undefined), cwd, issues),
  });
}

/** The command line's layer: relative paths are relative to the working directory. */
export function flagLayer(flags: CliFlags, cwd: string, issues: ConfigIssue[]): Layer {
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    issues.push(flags.cert === undefined ? { field: '--cert', message: 'is required with --key' } : { field: '--key', message: 'is required with --cert' });
  }
  const hand = (key: 'runAsUser' | 'runAsGroup') => check(key, flags[key], flagName(optionMeta(key).flag!), issues);
  return compact({
    users: flags.user && parseUserFlags(flags.user, issues),
    anonymous: flags.anonymous ? {} : undefined,
    tls:
      flags.cert !== undefined && flags.key !== undefined
        ? { cert: abs(cwd, flags.cert)!, key: abs(cwd, flags.key)!, fields: { cert: '--cert', key: '--key' } }
        : undefined,
    clientCerts:
      flags.clientCa !== undefined || flags.clientCertRequired
        ? compact({ ca: abs(cwd, flags.clientCa), required: flags.clientCertRequired ? true : undefined })
        : undefined,
    runAs: flags.runAsUser !== undefined || flags.runAsGroup !== undefined ? compact({ user: hand('runAsUser'), group: hand('runAsGroup') }) : undefined,
    ldap: urlOnly(check('ldapUrl', flags.ldapUrl, flagName(optionMeta('ldapUrl').flag!), issues)),
    acme: acmeFlagLayer(flags.acmeDomain, flags.acmeHttpListen, issues),
    ...schemaLayer((_, { flag, list }) => {
      if (flag === undefined) return undefined;
      const value = flags[flagKey(flag)];
      // A switch (no argument): given or not.
      const raw = !flag.includes(' ') ? (value ? true : undefined) : list ? one(value as string[] | undefined) : value;
      return [raw, flagName(flag)];
    }, cwd, issues),
  });
}

/** `--ldap-url` or FTPSD_LDAP_URL: an `ldap` layer with the URL only (the rest comes from the file). */
const urlOnly = (url: string | undefined): Layer['ldap'] => (url === undefined ? undefined : { url });

/** `--user NAME:PASSWORD`: the password stays in memory, unhashed. */
function parseUserFlags(values: string[], issues: ConfigIssue[]): Layer['users'] {
  const users: NonNullable<Layer['users']> = [];
  for (const value of values) {
    const colon = value.indexOf(':');
    if (colon < 0) {
      issues.push({ field: '--user', message: 'expected NAME:PASSWORD' });
      continue;
    }
    const name = value.slice(0, colon);
    const password = value.slice(colon + 1);
    const checked = userName.safeParse(name);
    if (!checked.success) issues.push({ field: '--user', message: `user name ${checked.error.issues[0]?.message ?? 'is invalid'}` });
    else if (password === '') issues.push({ field: '--user', message: `password of "${name}" must not be empty` });
    else if (users.some((u) => u.name === name)) issues.push({ field: '--user', message: `duplicate user name "${name}"` });
    else users.push({ name, password: { plain: password }, readOnly: false });
  }
  return users;
}
