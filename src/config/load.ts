/**
 * Loads the configuration: config file, then environment, then command line (flags > env > file >
 * defaults), into one validated, side-effect-free ResolvedConfig. `toServerOptions` (server-options.ts)
 * turns it into the options of FtpServer.
 */
import { randomInt } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { PortRange } from '../data/passive.js';
import type { LogLevel } from '../logger.js';
import type { ListenAddress } from '../server.js';
import type { Limits, SecurityOptions, Timeouts, UploadOptions } from '../settings.js';
import { POLICY_DEFAULTS, POLICY_NAMES, type PolicySettings } from '../policy-values.js';
import type { HookSpec } from '../ops/hooks.js';
import type { LogFormat } from '../ops/log-format.js';
import type { WebhookSpec } from '../ops/webhooks.js';
import type { DeliverySettings } from './ops-schema.js';
import { DEFAULTS } from './defaults.js';
import { checkAdvertisedPorts, type PasvAddressRule } from '../security/pasv-address.js';
import { pickUserPolicy, type UserPolicy } from './user-policy.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { readConfigFile } from './file.js';
import { checkTrusted, configOwners } from './file-trust.js';
import { resolveHeartbeat, workerCount, type HeartbeatSettings } from './cluster-schema.js';
import { parseListenAddress } from './listen-address.js';
import { mergeClientCerts, type ClientCertsConfig } from './client-certs.js';
import type { AuthHookConfig, LdapConfig } from './auth-schema.js';
import { resolveAcme } from './acme-schema.js';
import type { AcmeSettings } from '../acme/settings.js';
import { ENV, envLayer, fileLayer, flagLayer, type CliFlags, type Layer, type Password } from './sources.js';

export { ConfigError } from './errors.js';
export type { CliFlags } from './sources.js';

export interface ResolvedUser {
  name: string;
  /** Missing only with `login: certificate`. */
  password?: Password;
  /** Absolute path. */
  home: string;
  readOnly: boolean;
  permissions?: UserPolicy['permissions'];
  rules?: UserPolicy['rules'];
  quota?: UserPolicy['quota'];
}

/**
 * The resolved config: every option of the schema, as its schema gives it (the value of the highest
 * layer that sets it, undefined when none does), and those resolved by hand below (defaults, paths,
 * checks across options); the policy options (TLS policy, session reuse, data protection) come from
 * policy-options.ts. A new option needs nothing here: it is in ResolvedConfig as its schema's output.
 */
export type ResolvedConfig = Omit<Layer, keyof ResolvedByHand> & ResolvedByHand;

/** The options resolved by hand (merge below). */
export interface ResolvedByHand extends PolicySettings {
  /** Absolute path of the config file, if one was given. */
  configFile: string | undefined;
  listen: ListenAddress[];
  implicitListen: ListenAddress[];
  /** Absolute path. */
  root: string;
  users: ResolvedUser[];
  anonymous: { home: string } | undefined;
  /** Certificate files, and the field names to use in errors about them. */
  tls: { cert: string; key: string; fields: { cert: string; key: string } } | undefined;
  /** TLS client certificates (config/client-certs.ts); undefined: not asked for. */
  clientCerts: ClientCertsConfig | undefined;
  pasvPorts: PortRange | undefined;
  /** One address or host name, or rules by client network. */
  pasvAddress: string | PasvAddressRule[] | undefined;
  /** The passive ports clients see (port mapping); undefined: pasvPorts. */
  pasvAdvertisedPorts: PortRange | undefined;
  /** Trusted PROXY-protocol proxies (CIDR); empty: none. */
  proxyProtocol: string[];
  /** Reload when the config file changes. */
  watchConfig: boolean;
  /** Worker processes of `ftpsd serve` (`auto` resolved to the number of cores); 1: no cluster. */
  workers: number;
  /**
   * `workers: auto` (the default): the cluster starts one worker and adds more on load, up to `workers`
   * (cluster/worker-scaler.ts); false: `workers` is a number, all started at once.
   */
  workersOnDemand: boolean;
  /** How the primary of cluster mode checks its workers (defaults applied). */
  workerHeartbeat: HeartbeatSettings;
  /** Who to become after binding (`ftpsd serve`); undefined: stay. */
  runAs: { user: string; group?: string } | undefined;
  /** The file mode creation mask `ftpsd serve` sets (instead of the one it inherited). */
  umask: number;
  logLevel: LogLevel;
  /** `auto`: pretty on a terminal, JSON otherwise. */
  logFormat: LogFormat;
  /** The Prometheus endpoint's address; undefined: off. */
  metricsListen: ListenAddress | undefined;
  /** Absolute path of the xferlog file; undefined: off. */
  xferlog: string | undefined;
  hooks: HookSpec[];
  webhooks: WebhookSpec[];
  /** Hook and webhook delivery (unset fields take the defaults of ops/delivery-queue.ts). */
  hookDelivery: Partial<DeliverySettings>;
  /** Absolute path. */
  stateDir: string;
  /** Certificates by ACME (src/acme/); `field` names where the domains came from. Never with `tls`. */
  acme: (AcmeSettings & { field: string }) | undefined;
  timeouts: Partial<Timeouts>;
  limits: Partial<Limits>;
  /** Login bans and access lists (file only). */
  security: SecurityOptions;
  /** How uploads are written and ended (file only); unset fields take their defaults. */
  uploads: UploadOptions;
  /** The default account's random password (to print once); undefined when the user chose passwords. */
  generatedPassword: string | undefined;
  /** True when the default account's password came from FTPSD_PASSWORD. */
  passwordFromEnv: boolean;
  /** LDAP logins (url from flags > env > file, the rest from the file; paths absolute); undefined: off. */
  ldap: (LdapConfig & { url: string; base: string }) | undefined;
  /** The HTTP auth hook; undefined: off. */
  authHook: AuthHookConfig | undefined;
  /** Where the generated password's hash is kept (src/config/generated-account.ts), once known. */
  generatedPasswordFile?: string;
  /** True when the password is the one kept from an earlier run (not printed: only its hash is known). */
  generatedPasswordKept?: boolean;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** On a reload: the default account's generated password, kept (instead of a new one). */
  generatedPassword?: string;
}

export async function loadConfig(flags: CliFlags, options: LoadOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const issues: ConfigIssue[] = [];
  const fromFlags = flagLayer(flags, cwd, issues);
  const fromEnv = envLayer(env, cwd, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  let fromFile: Layer = {};
  const configPath = flags.config ?? (env[ENV.config] || undefined);
  const configFile = configPath === undefined ? undefined : resolve(cwd, configPath);
  // Whoever may change the file decides what ftpsd (root, often) does: refused unless only root or we can.
  if (configFile !== undefined) checkTrusted(configFile, 'config file', configOwners());
  if (configFile !== undefined) fromFile = fileLayer(await readConfigFile(configFile, configPath), dirname(configFile));
  return merge([fromFlags, fromEnv, fromFile], env, cwd, configFile, options.generatedPassword);
}

/** The first layer that sets a key wins. */
function pick<K extends keyof Layer>(layers: Layer[], key: K): Layer[K] {
  for (const layer of layers) if (layer[key] !== undefined) return layer[key];
  return undefined;
}

function merge(layers: Layer[], env: NodeJS.ProcessEnv, cwd: string, configFile: string | undefined, keepPassword?: string): ResolvedConfig {
  const root = pick(layers, 'root') ?? resolve(cwd, DEFAULTS.root);
  // Below an s3:// root a home is a key prefix (an absolute one too: s3://BUCKET/PREFIX/home).
  const inRoot = (home: string | undefined) =>
    home === undefined ? root : root.startsWith('s3://') ? `${root.replace(/\/+$/, '')}/${home.replace(/^\/+/, '')}` : isAbsolute(home) ? home : resolve(root, home);
  const listen = pick(layers, 'listen') ?? [parseListenAddress(DEFAULTS.listen)];
  const implicitListen = pick(layers, 'implicitListen') ?? [parseListenAddress(DEFAULTS.implicitListen)];
  if (listen.length + implicitListen.length === 0) {
    throw ConfigError.of('listen', 'no listener left: give at least one address in listen or implicitListen');
  }
  let generatedPassword: string | undefined;
  let users: ResolvedUser[];
  const configured = pick(layers, 'users');
  const ldap = resolveLdap(layers);
  const authHook = pick(layers, 'authHook');
  if (configured && configured.length > 0) {
    users = configured.map((u) => ({ name: u.name, ...(u.password ? { password: u.password } : {}), home: inRoot(u.home), readOnly: u.readOnly ?? false, ...pickUserPolicy(u) }));
  } else if (ldap || authHook) {
    // Accounts come from the directory or the hook: no default account.
    users = [];
  } else {
    const fromEnv = env[ENV.password] || undefined;
    if (fromEnv === undefined) generatedPassword = keepPassword ?? randomPassword();
    users = [{ name: DEFAULTS.userName, password: { plain: fromEnv ?? generatedPassword! }, home: root, readOnly: false }];
  }
  const anonymous = pick(layers, 'anonymous') || undefined;
  const pasvPorts = pick(layers, 'pasvPorts');
  const pasvAdvertisedPorts = pick(layers, 'pasvAdvertisedPorts');
  if (pasvAdvertisedPorts) {
    try {
      checkAdvertisedPorts(pasvPorts, pasvAdvertisedPorts);
    } catch (err) {
      throw ConfigError.of('pasvAdvertisedPorts', (err as Error).message);
    }
  }
  // runAs: each of user and group from the first layer that sets it.
  const runAsUser = layers.find((l) => l.runAs?.user !== undefined)?.runAs?.user;
  const runAsGroup = layers.find((l) => l.runAs?.group !== undefined)?.runAs?.group;
  if (runAsGroup !== undefined && runAsUser === undefined) throw ConfigError.of('runAs.group', 'needs runAs.user (--run-as-user)');
  const tls = pick(layers, 'tls');
  const acme = resolveAcme(layers.map((l) => l.acme));
  if (acme && tls) {
    throw ConfigError.of(tls.fields.cert, `${tls.fields.cert}/${tls.fields.key} and ACME (${acme.field}) cannot be used together: choose your own certificate or one from the CA`);
  }
  const workerHeartbeat = resolveHeartbeat(pick(layers, 'workerHeartbeat'));
  if ('error' in workerHeartbeat) throw ConfigError.of('workerHeartbeat.timeoutMs', workerHeartbeat.error);
  const timeouts: Partial<Timeouts> = {};
  const limits: Partial<Limits> = {};
  const security: SecurityOptions = {};
  for (const layer of [...layers].reverse()) {
    Object.assign(timeouts, layer.timeouts);
    Object.assign(limits, layer.limits);
    Object.assign(security, layer.security);
  }
  // Every option as its highest layer gives it; those resolved by hand below replace theirs.
  const given = Object.fromEntries([...new Set(layers.flatMap((l) => Object.keys(l)))].map((k) => [k, pick(layers, k as keyof Layer)]));
  return {
    ...given,
    configFile,
    listen,
    implicitListen,
    root,
    users,
    anonymous: anonymous && { home: inRoot(anonymous.home) },
    tls,
    clientCerts: mergeClientCerts(layers.map((l) => l.clientCerts)),
    pasvPorts,
    pasvAddress: pick(layers, 'pasvAddress'),
    pasvAdvertisedPorts,
    proxyProtocol: pick(layers, 'proxyProtocol') ?? [],
    watchConfig: pick(layers, 'watchConfig') ?? false,
    workers: workerCount(pick(layers, 'workers'), { pasvPorts }),
    workersOnDemand: (pick(layers, 'workers') ?? 'auto') === 'auto',
    workerHeartbeat,
    runAs: runAsUser === undefined ? undefined : { user: runAsUser, ...(runAsGroup !== undefined ? { group: runAsGroup } : {}) },
    umask: pick(layers, 'umask') ?? DEFAULTS.umask,
    ...(Object.fromEntries(POLICY_NAMES.map((name) => [name, pick(layers, name) ?? POLICY_DEFAULTS[name]])) as unknown as PolicySettings),
    logLevel: pick(layers, 'logLevel') ?? DEFAULTS.logLevel,
    logFormat: pick(layers, 'logFormat') ?? 'auto',
    metricsListen: pick(layers, 'metricsListen') || undefined,
    xferlog: pick(layers, 'xferlog') || undefined,
    hooks: pick(layers, 'hooks') ?? [],
    webhooks: pick(layers, 'webhooks') ?? [],
    hookDelivery: Object.assign({}, ...[...layers].reverse().map((l) => l.hookDelivery)) as Partial<DeliverySettings>,
    stateDir: pick(layers, 'stateDir') ?? resolve(cwd, DEFAULTS.stateDir),
    acme,
    timeouts,
    limits,
    security,
    uploads: pick(layers, 'uploads') ?? {},
    generatedPassword,
    passwordFromEnv: !configured?.length && !ldap && !authHook && generatedPassword === undefined,
    ldap,
    authHook,
  };
}

/** `ldap.url` from the first layer that sets it, the rest of `ldap` from the file; url and base go together. */
function resolveLdap(layers: Layer[]): ResolvedConfig['ldap'] {
  const url = layers.find((l) => l.ldap?.url !== undefined)?.ldap?.url;
  const rest = [...layers].reverse().find((l) => l.ldap?.base !== undefined || (l.ldap && Object.keys(l.ldap).some((k) => k !== 'url')))?.ldap;
  if (url === undefined && rest === undefined) return undefined;
  if (url === undefined) throw ConfigError.of('ldap.url', 'is required with the other ldap options (or --ldap-url, FTPSD_LDAP_URL)');
  const base = rest?.base;
  if (base === undefined) throw ConfigError.of('ldap.base', 'is required with ldap.url (where users are searched)');
  if (rest?.startTls && url.startsWith('ldaps:')) throw ConfigError.of('ldap.startTls', 'is for ldap:// URLs (ldaps:// is TLS from the start)');
  return { ...rest, url, base };
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** 20 characters from an unambiguous alphabet: about 115 bits. */
export function randomPassword(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/**
 * Layers (highest first) to a ResolvedConfig with the same defaults and checks as the command, without
 * an environment or a config file: what `createServer` (src/embed/) uses for the options it is given.
 */
export function resolveLayers(layers: Layer[], cwd: string): ResolvedConfig {
  return merge(layers, {}, cwd, undefined);
}
