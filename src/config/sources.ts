/**
 * The three sources of settings, each turned into the same typed layer: the config file, the
 * environment (FTPSD_*) and the command line. Every value is checked by the same field schema, and an
 * error names the field as the user wrote it.
 */
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import type { PortRange } from '../data/passive.js';
import type { LogLevel } from '../logger.js';
import type { ListenAddress } from '../server.js';
import type { Limits, SecurityOptions, Timeouts, UploadOptions } from '../settings.js';
import { POLICY_NAMES, policyFields, pickPolicy, type PolicyName, type PolicySettings } from '../policy-options.js';
import type { ConfigIssue } from './errors.js';
import { fields, userName, type ConfigFile } from './schema.js';
import { pickUserPolicy, type UserPolicy } from './user-policy.js';
import type { DeliverySettings } from './ops-schema.js';
import type { HookSpec } from '../ops/hooks.js';
import type { LogFormat } from '../ops/log-format.js';
import type { WebhookSpec } from '../ops/webhooks.js';
import type { PasvAddressRule } from '../security/pasv-address.js';
import type { HeartbeatSettings, WorkersSetting } from './cluster-schema.js';

export type Password = { hash: string } | { plain: string };

/** One source's settings; paths are absolute, users' homes still relative to root. */
export interface Layer extends Partial<PolicySettings> {
  listen?: ListenAddress[];
  implicitListen?: ListenAddress[];
  root?: string;
  users?: ({ name: string; password: Password; home?: string; readOnly?: boolean } & UserPolicy)[];
  /** `false`: off (FTPSD_ANONYMOUS=false overrides the file). */
  anonymous?: { home?: string } | false;
  tls?: { cert: string; key: string; fields: { cert: string; key: string } };
  pasvPorts?: PortRange;
  pasvAddress?: string | PasvAddressRule[];
  // Service options (config/service-schema.ts).
  pasvAdvertisedPorts?: PortRange;
  proxyProtocol?: string[];
  watchConfig?: boolean;
  runAs?: { user?: string; group?: string };
  umask?: number;
  /** Cluster mode (config/cluster-schema.ts). */
  workers?: WorkersSetting;
  workerHeartbeat?: Partial<HeartbeatSettings>;
  logLevel?: LogLevel;
  stateDir?: string;
  // Operations (config/ops-schema.ts): `false` is off.
  logFormat?: LogFormat;
  metricsListen?: ListenAddress | false;
  xferlog?: string | false;
  hooks?: HookSpec[];
  webhooks?: WebhookSpec[];
  hookDelivery?: Partial<DeliverySettings>;
  timeouts?: Partial<Timeouts>;
  limits?: Partial<Limits>;
  security?: SecurityOptions;
  uploads?: UploadOptions;
}

/** Command-line flags as commander hands them over (unvalidated strings); the policy flags by option name. */
export interface CliFlags extends Partial<Record<PolicyName, string>> {
  config?: string;
  root?: string;
  user?: string[];
  anonymous?: boolean;
  listen?: string[];
  implicitListen?: string[];
  cert?: string;
  key?: string;
  pasvPorts?: string;
  pasvAddress?: string;
  pasvAdvertisedPorts?: string;
  proxyProtocol?: string[];
  watchConfig?: boolean;
  runAsUser?: string;
  runAsGroup?: string;
  umask?: string;
  workers?: string;
  logLevel?: string;
  stateDir?: string;
  logFormat?: string;
  metricsListen?: string;
  xferlog?: string;
  hook?: string[];
  webhook?: string[];
  /** A new generated password for the default account, replacing the kept one. */
  newPassword?: boolean;
}

type FieldName = keyof typeof fields;

/** Validates one value with its field schema; problems go to `issues` under the name `field`. */
function check<K extends FieldName>(key: K, value: unknown, field: string, issues: ConfigIssue[]): z.output<(typeof fields)[K]> | undefined {
  if (value === undefined) return undefined;
  const result = fields[key].safeParse(value);
  if (result.success) return result.data as z.output<(typeof fields)[K]>;
  issues.push({ field, message: result.error.issues[0]?.message ?? 'invalid value' });
  return undefined;
}

/** The policy options' `env` or `flag` metadata (policy-options.ts), by option name. */
export function policyMeta(key: 'env' | 'flag'): Record<PolicyName, string> {
  return Object.fromEntries(POLICY_NAMES.map((name) => [name, policyFields[name].meta()![key]!])) as Record<PolicyName, string>;
}

/** The policy options of one source: `read` gives each one's raw value and the name errors use. */
function policyLayer(read: (name: PolicyName) => [unknown, string], issues: ConfigIssue[]): Partial<PolicySettings> {
  const out: Partial<Record<PolicyName, unknown>> = {};
  for (const name of POLICY_NAMES) {
    const [value, field] = read(name);
    out[name] = check(name, value, field, issues);
  }
  return out as Partial<PolicySettings>;
}

/** Drops undefined values so that layers merge with `??` semantics. */
function compact<T extends object>(layer: T): T {
  return Object.fromEntries(Object.entries(layer).filter(([, v]) => v !== undefined)) as T;
}

const abs = (base: string, p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(base, p));
const absOrOff = (base: string, p: string | false | undefined) => (p === false ? false : abs(base, p));

/** The config file's options, or createServer's (whose passwords may be plain: embed/option-forms.ts). */
export type FileOptions = Omit<ConfigFile, 'users'> & {
  users?: (Omit<NonNullable<ConfigFile['users']>[number], 'password'> & { password: string | Password })[] | undefined;
};

/** The file's layer: relative paths are relative to the file's directory. */
export function fileLayer(file: FileOptions, dir: string): Layer {
  return compact({
    listen: file.listen,
    implicitListen: file.implicitListen,
    root: abs(dir, file.root),
    users: file.users?.map((u) => ({ name: u.name, password: typeof u.password === 'string' ? { hash: u.password } : u.password, home: u.home, readOnly: u.readOnly ?? false, ...pickUserPolicy(u) })),
    anonymous: file.anonymous,
    tls: file.tls && {
      cert: abs(dir, file.tls.cert)!,
      key: abs(dir, file.tls.key)!,
      fields: { cert: 'tls.cert', key: 'tls.key' },
    },
    pasvPorts: file.pasvPorts,
    pasvAddress: file.pasvAddress,
    pasvAdvertisedPorts: file.pasvAdvertisedPorts,
    proxyProtocol: file.proxyProtocol,
    watchConfig: file.watchConfig,
    workers: file.workers,
    umask: file.umask,
    workerHeartbeat: file.workerHeartbeat,
    runAs: file.runAs && { user: file.runAs.user, ...(file.runAs.group !== undefined ? { group: file.runAs.group } : {}) },
    ...pickPolicy(file),
    logLevel: file.logLevel,
    stateDir: abs(dir, file.stateDir),
    logFormat: file.logFormat,
    metricsListen: file.metricsListen,
    xferlog: typeof file.xferlog === 'string' ? abs(dir, file.xferlog) : file.xferlog,
    hooks: file.hooks,
    webhooks: file.webhooks,
    hookDelivery: file.hookDelivery,
    timeouts: file.timeouts,
    limits: file.limits,
    security: file.security,
    uploads: file.uploads,
  });
}

export const ENV = {
  listen: 'FTPSD_LISTEN',
  implicitListen: 'FTPSD_IMPLICIT_LISTEN',
  root: 'FTPSD_ROOT',
  ...policyMeta('env'),
  pasvPorts: 'FTPSD_PASV_PORTS',
  pasvAddress: 'FTPSD_PASV_ADDRESS',
  logLevel: 'FTPSD_LOG_LEVEL',
  logFormat: 'FTPSD_LOG_FORMAT',
  metricsListen: 'FTPSD_METRICS_LISTEN',
  xferlog: 'FTPSD_XFERLOG',
  password: 'FTPSD_PASSWORD',
  // For containers: every top-level scalar option has a variable.
  config: 'FTPSD_CONFIG',
  stateDir: 'FTPSD_STATE_DIR',
  cert: 'FTPSD_CERT',
  key: 'FTPSD_KEY',
  anonymous: 'FTPSD_ANONYMOUS',
  pasvAdvertisedPorts: 'FTPSD_PASV_ADVERTISED_PORTS',
  proxyProtocol: 'FTPSD_PROXY_PROTOCOL',
  watchConfig: 'FTPSD_WATCH_CONFIG',
  runAsUser: 'FTPSD_RUN_AS_USER',
  runAsGroup: 'FTPSD_RUN_AS_GROUP',
  umask: 'FTPSD_UMASK',
  workers: 'FTPSD_WORKERS',
} as const;

/** The environment's layer (empty variables count as unset); lists are comma-separated. */
export function envLayer(env: NodeJS.ProcessEnv, cwd: string, issues: ConfigIssue[]): Layer {
  const get = (name: string) => (env[name] === '' ? undefined : env[name]);
  const list = (name: string) => get(name)?.split(',').map((s) => s.trim());
  const one = (v: string[] | undefined) => (v?.length === 1 && v[0] === 'off' ? 'off' : v);
  const cert = get(ENV.cert);
  const key = get(ENV.key);
  if ((cert === undefined) !== (key === undefined)) {
    issues.push(cert === undefined ? { field: ENV.cert, message: `is required with ${ENV.key}` } : { field: ENV.key, message: `is required with ${ENV.cert}` });
  }
  const anonymous = check('watchConfig', get(ENV.anonymous), ENV.anonymous, issues);
  const runAsUser = check('runAsUser', get(ENV.runAsUser), ENV.runAsUser, issues);
  const runAsGroup = check('runAsGroup', get(ENV.runAsGroup), ENV.runAsGroup, issues);
  return compact({
    stateDir: abs(cwd, check('stateDir', get(ENV.stateDir), ENV.stateDir, issues)),
    tls: cert !== undefined && key !== undefined ? { cert: abs(cwd, cert)!, key: abs(cwd, key)!, fields: { cert: ENV.cert, key: ENV.key } } : undefined,
    anonymous: anonymous === undefined ? undefined : anonymous ? {} : false,
    pasvAdvertisedPorts: check('pasvAdvertisedPorts', get(ENV.pasvAdvertisedPorts), ENV.pasvAdvertisedPorts, issues),
    proxyProtocol: check('proxyProtocol', one(list(ENV.proxyProtocol)), ENV.proxyProtocol, issues),
    watchConfig: check('watchConfig', get(ENV.watchConfig), ENV.watchConfig, issues),
    workers: check('workers', get(ENV.workers), ENV.workers, issues),
    umask: check('umask', get(ENV.umask), ENV.umask, issues),
    runAs: runAsUser !== undefined || runAsGroup !== undefined ? compact({ user: runAsUser, group: runAsGroup }) : undefined,
    listen: check('listen', one(list(ENV.listen)), ENV.listen, issues),
    implicitListen: check('implicitListen', one(list(ENV.implicitListen)), ENV.implicitListen, issues),
    root: abs(cwd, check('root', get(ENV.root), ENV.root, issues)),
    pasvPorts: check('pasvPorts', get(ENV.pasvPorts), ENV.pasvPorts, issues),
    pasvAddress: check('pasvAddress', get(ENV.pasvAddress), ENV.pasvAddress, issues),
    ...policyLayer((name) => [get(ENV[name]), ENV[name]], issues),
    logLevel: check('logLevel', get(ENV.logLevel), ENV.logLevel, issues),
    logFormat: check('logFormat', get(ENV.logFormat), ENV.logFormat, issues),
    metricsListen: check('metricsListen', get(ENV.metricsListen), ENV.metricsListen, issues),
    xferlog: absOrOff(cwd, check('xferlog', get(ENV.xferlog), ENV.xferlog, issues)),
  });
}

/** The command line's layer: relative paths are relative to the working directory. */
export function flagLayer(flags: CliFlags, cwd: string, issues: ConfigIssue[]): Layer {
  const one = (v: string[] | undefined) => (v?.length === 1 && v[0] === 'off' ? 'off' : v);
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    issues.push(flags.cert === undefined ? { field: '--cert', message: 'is required with --key' } : { field: '--key', message: 'is required with --cert' });
  }
  return compact({
    listen: check('listen', one(flags.listen), '--listen', issues),
    implicitListen: check('implicitListen', one(flags.implicitListen), '--implicit-listen', issues),
    root: abs(cwd, check('root', flags.root, '--root', issues)),
    users: flags.user && parseUserFlags(flags.user, issues),
    anonymous: flags.anonymous ? {} : undefined,
    tls:
      flags.cert !== undefined && flags.key !== undefined
        ? { cert: abs(cwd, flags.cert)!, key: abs(cwd, flags.key)!, fields: { cert: '--cert', key: '--key' } }
        : undefined,
    pasvPorts: check('pasvPorts', flags.pasvPorts, '--pasv-ports', issues),
    pasvAddress: check('pasvAddress', flags.pasvAddress, '--pasv-address', issues),
    pasvAdvertisedPorts: check('pasvAdvertisedPorts', flags.pasvAdvertisedPorts, '--pasv-advertised-ports', issues),
    proxyProtocol: check('proxyProtocol', one(flags.proxyProtocol), '--proxy-protocol', issues),
    watchConfig: flags.watchConfig ? true : undefined,
    workers: check('workers', flags.workers, '--workers', issues),
    umask: check('umask', flags.umask, '--umask', issues),
    runAs: flags.runAsUser !== undefined || flags.runAsGroup !== undefined
      ? compact({
          user: check('runAsUser', flags.runAsUser, '--run-as-user', issues),
          group: check('runAsGroup', flags.runAsGroup, '--run-as-group', issues),
        })
      : undefined,
    ...policyLayer((name) => [flags[name], policyMeta('flag')[name].split(' ')[0]!], issues),
    logLevel: check('logLevel', flags.logLevel, '--log-level', issues),
    logFormat: check('logFormat', flags.logFormat, '--log-format', issues),
    metricsListen: check('metricsListen', flags.metricsListen, '--metrics-listen', issues),
    xferlog: absOrOff(cwd, check('xferlog', flags.xferlog, '--xferlog', issues)),
    hooks: check('hooks', flags.hook, '--hook', issues),
    webhooks: check('webhooks', flags.webhook, '--webhook', issues),
    stateDir: abs(cwd, check('stateDir', flags.stateDir, '--state-dir', issues)),
  });
}

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
