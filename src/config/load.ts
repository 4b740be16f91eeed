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
import type { Limits, SecurityOptions, SessionReuse, Timeouts, TlsRequired } from '../settings.js';
import type { UploadPolicy } from '../auth/users.js';
import { DEFAULTS } from './defaults.js';
import { pickUserPolicy, type UserPolicy } from './user-policy.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { readConfigFile } from './file.js';
import { parseListenAddress } from './listen-address.js';
import { ENV, envLayer, fileLayer, flagLayer, type CliFlags, type Layer, type Password } from './sources.js';

export { ConfigError } from './errors.js';
export type { CliFlags } from './sources.js';

export interface ResolvedUser {
  name: string;
  password: Password;
  /** Absolute path. */
  home: string;
  readOnly: boolean;
  permissions?: UserPolicy['permissions'];
  rules?: UserPolicy['rules'];
  quota?: UserPolicy['quota'];
}

export interface ResolvedConfig {
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
  pasvPorts: PortRange | undefined;
  pasvAddress: string | undefined;
  tlsRequired: TlsRequired;
  sessionReuse: SessionReuse;
  logLevel: LogLevel;
  /** Absolute path. */
  stateDir: string;
  timeouts: Partial<Timeouts>;
  limits: Partial<Limits>;
  /** Login bans and access lists (file only). */
  security: SecurityOptions;
  /** How uploads are written (file only); unset fields take the LocalStorage defaults. */
  uploads: UploadPolicy;
  /** The default account's random password (to print once); undefined when the user chose passwords. */
  generatedPassword: string | undefined;
  /** True when the default account's password came from FTPSD_PASSWORD. */
  passwordFromEnv: boolean;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export async function loadConfig(flags: CliFlags, options: LoadOptions = {}): Promise<ResolvedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const issues: ConfigIssue[] = [];
  const fromFlags = flagLayer(flags, cwd, issues);
  const fromEnv = envLayer(env, cwd, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  let fromFile: Layer = {};
  const configFile = flags.config === undefined ? undefined : resolve(cwd, flags.config);
  if (configFile !== undefined) fromFile = fileLayer(await readConfigFile(configFile, flags.config), dirname(configFile));
  return merge([fromFlags, fromEnv, fromFile], env, cwd, configFile);
}

/** The first layer that sets a key wins. */
function pick<K extends keyof Layer>(layers: Layer[], key: K): Layer[K] {
  for (const layer of layers) if (layer[key] !== undefined) return layer[key];
  return undefined;
}

function merge(layers: Layer[], env: NodeJS.ProcessEnv, cwd: string, configFile: string | undefined): ResolvedConfig {
  const root = pick(layers, 'root') ?? resolve(cwd, DEFAULTS.root);
  const inRoot = (home: string | undefined) => (home === undefined ? root : isAbsolute(home) ? home : resolve(root, home));
  const listen = pick(layers, 'listen') ?? [parseListenAddress(DEFAULTS.listen)];
  const implicitListen = pick(layers, 'implicitListen') ?? [parseListenAddress(DEFAULTS.implicitListen)];
  if (listen.length + implicitListen.length === 0) {
    throw ConfigError.of('listen', 'no listener left: give at least one address in listen or implicitListen');
  }
  let generatedPassword: string | undefined;
  let users: ResolvedUser[];
  const configured = pick(layers, 'users');
  if (configured && configured.length > 0) {
    users = configured.map((u) => ({ name: u.name, password: u.password, home: inRoot(u.home), readOnly: u.readOnly ?? false, ...pickUserPolicy(u) }));
  } else {
    const fromEnv = env[ENV.password] || undefined;
    if (fromEnv === undefined) generatedPassword = randomPassword();
    users = [{ name: DEFAULTS.userName, password: { plain: fromEnv ?? generatedPassword! }, home: root, readOnly: false }];
  }
  const anonymous = pick(layers, 'anonymous');
  const timeouts: Partial<Timeouts> = {};
  const limits: Partial<Limits> = {};
  const security: SecurityOptions = {};
  for (const layer of [...layers].reverse()) {
    Object.assign(timeouts, layer.timeouts);
    Object.assign(limits, layer.limits);
    Object.assign(security, layer.security);
  }
  return {
    configFile,
    listen,
    implicitListen,
    root,
    users,
    anonymous: anonymous && { home: inRoot(anonymous.home) },
    tls: pick(layers, 'tls'),
    pasvPorts: pick(layers, 'pasvPorts'),
    pasvAddress: pick(layers, 'pasvAddress'),
    tlsRequired: pick(layers, 'tlsRequired') ?? DEFAULTS.tlsRequired,
    sessionReuse: pick(layers, 'sessionReuse') ?? DEFAULTS.sessionReuse,
    logLevel: pick(layers, 'logLevel') ?? DEFAULTS.logLevel,
    stateDir: pick(layers, 'stateDir') ?? resolve(cwd, DEFAULTS.stateDir),
    timeouts,
    limits,
    security,
    uploads: pick(layers, 'uploads') ?? {},
    generatedPassword,
    passwordFromEnv: !configured?.length && generatedPassword === undefined,
  };
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** 20 characters from an unambiguous alphabet: about 115 bits. */
export function randomPassword(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
