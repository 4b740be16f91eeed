/**
 * The options of `createServer`: the config file's options, under the same names and with the same
 * meanings, checked by the same schema (so an error reads the same: `listen[0]: port must be <= 65535`),
 * plus what only a program can give: an authenticator, storage, commands, a logger.
 *
 * What differs from the `ftpsd` command, and why:
 * - `tls` holds PEM text (`{cert, key}`), file paths (`{certFile, keyFile}`) or `'self-signed'` (made in
 *   memory, or kept in `stateDir` when that is given); without `tls` there is no FTPS, so `tlsRequired`
 *   (default `login`) must then be `off`. The command instead generates a certificate in `./.ftpsd`.
 * - `implicitListen` defaults to none (the command: `[::]:2990`).
 * - Nobody is made up: no `ftpsd` account with a random password; give `users`, `anonymous` or an
 *   `authenticator`. A user's `password` may be plain text (kept in memory) as well as an argon2id hash.
 * - Nothing is read from the environment (`FTPSD_*`), and `watchConfig`/`runAs` belong to the command.
 */
import { Buffer } from 'node:buffer';
import type { Authenticator } from '../auth/authenticator.js';
import type { Permission } from '../auth/permissions.js';
import type { PermissionRule } from '../auth/rules.js';
import type { UploadPolicy } from '../auth/users.js';
import type { CommandSpec } from '../commands/define.js';
import type { SiteCommandSpec } from '../commands/site.js';
import { checkPair } from '../config/certificate.js';
import { ConfigError, zodIssues, type ConfigIssue } from '../config/errors.js';
import { formatAddress } from '../config/listen-address.js';
import { resolveLayers, type ResolvedConfig } from '../config/load.js';
import { configSchema } from '../config/schema.js';
import { fileLayer } from '../config/sources.js';
import type { PortRange } from '../data/passive.js';
import type { Logger, LogLevel } from '../logger.js';
import type { BanPolicy, Limits, SessionReuse, Timeouts, TlsRequired } from '../settings.js';
import type { QuotaLimits } from '../storage/quota.js';
import type { Storage } from '../storage/storage.js';

/** A listen address: `'HOST:PORT'` (`'127.0.0.1:2121'`, `'[::1]:2121'`, `':2121'`), a port, or `{host, port}`. */
export type ListenOption = string | number | { readonly host: string; readonly port: number };

/** An account, as in the config file's `users`. */
export interface UserOption {
  readonly name: string;
  /**
   * An argon2id hash (`$argon2id$...`, from `ftpsd hash-password` or `hashPassword()`), or a plain
   * password kept in memory; `{hash}` or `{plain}` say which explicitly.
   */
  readonly password: string | { readonly hash: string } | { readonly plain: string };
  /** Home directory, relative to `root` (or absolute), created if missing. Default: `root`. */
  readonly home?: string;
  /** Download only: the default permissions become `list` and `read`. */
  readonly readOnly?: boolean;
  /** What the user may do. Default: every permission (or `list`, `read` with `readOnly`). */
  readonly permissions?: readonly Permission[];
  /** Per-directory overrides of `permissions` (the longest matching path that names a permission decides). */
  readonly rules?: readonly PermissionRule[];
  /** Limits on the home: 552 when an upload would exceed them. */
  readonly quota?: QuotaLimits;
}

/**
 * The certificate: `'self-signed'` (an ECDSA certificate for localhost, 127.0.0.1, ::1 and this host,
 * made at `listen()`; kept in `stateDir` when that is set), PEM text, or PEM files.
 */
export type TlsOption =
  | 'self-signed'
  | { readonly cert: string | Buffer; readonly key: string | Buffer }
  | { readonly certFile: string; readonly keyFile: string };

/** What each user gets as files: one Storage for everyone, or one per account (called once per account). */
export type StorageOption = Storage | ((user: string) => Storage | Promise<Storage>);

/** A hook: `'EVENT=COMMAND'` or `{event, command}` (see the README's Operations section). */
export type HookOption = string | { readonly event: string; readonly command: string | readonly string[] };
/** A webhook: a URL, or `{url, events}`. */
export type WebhookOption = string | { readonly url: string; readonly events?: readonly string[] };

/**
 * The options of {@link createServer}. Every config file option has the same name and meaning here (see
 * the README's config file section); the last group is for programs only.
 */
export interface ServerOptions {
  /** Explicit FTP(S) listeners (clients upgrade with AUTH TLS). Default: `'[::]:2121'`; `'off'` for none. */
  readonly listen?: ListenOption | readonly ListenOption[] | 'off';
  /** Implicit FTPS listeners (TLS from the first byte). Needs `tls`. Default: none. */
  readonly implicitListen?: ListenOption | readonly ListenOption[] | 'off';
  /** The served directory, created if missing; users' homes are relative to it. Needed by `users` and `anonymous` unless `storage` is given. */
  readonly root?: string;
  /** Accounts checked by the built-in authenticator. */
  readonly users?: readonly UserOption[];
  /** Read-only anonymous logins (users `anonymous` and `ftp`, any password): `true`, or `{home}`. Default: off. */
  readonly anonymous?: boolean | { readonly home?: string };
  /** Certificate and key; without it there is no FTPS (and `tlsRequired` must be `off`). */
  readonly tls?: TlsOption;
  /** Passive data ports, `'MIN-MAX'` or `{min, max}`. Default: any free port. */
  readonly pasvPorts?: string | PortRange;
  /** The IPv4 address (or host name) PASV advertises, for NAT; or rules by client network. Default: the address the client connected to. */
  readonly pasvAddress?: string | readonly { readonly network?: string; readonly address: string }[];
  /** The passive ports as clients must see them when a port mapping differs from `pasvPorts`. */
  readonly pasvAdvertisedPorts?: string | PortRange;
  /** Trusted proxies (CIDR) whose connections start with a PROXY protocol header. Default: none. */
  readonly proxyProtocol?: string | readonly string[] | 'off';
  /** `off`: plain FTP allowed; `login` (default): TLS before USER/PASS; `all`: also PROT P for every transfer. */
  readonly tlsRequired?: TlsRequired;
  /** `require` (default): a protected data connection must resume its control connection's TLS session; `allow`; `off`. */
  readonly sessionReuse?: SessionReuse;
  /** Without `logger`: log JSON lines (or pretty lines, see `logFormat`) at this level to stdout. Default: no logs. */
  readonly logLevel?: LogLevel;
  /** With `logLevel`: `auto` (pretty on a terminal), `json` or `pretty`. */
  readonly logFormat?: 'auto' | 'json' | 'pretty';
  /** With `tls: 'self-signed'`: keep the generated certificate here (cert.pem, key.pem) and reuse it. */
  readonly stateDir?: string;
  /** Timeouts in milliseconds (idleMs, loginMs, dataConnectMs, handshakeMs, cccMs, stalledTransferMs). */
  readonly timeouts?: Partial<Timeouts>;
  /** Protocol limits (maxLineBytes, maxSessions, loginFailureDelayMs, ...). */
  readonly limits?: Partial<Limits>;
  /** Login bans (`ban`, or `ban: 'off'`) and access lists (`allow`, `deny`: CIDR networks). */
  readonly security?: {
    readonly ban?: Partial<BanPolicy> | false | 'off';
    readonly allow?: string | readonly string[];
    readonly deny?: string | readonly string[];
  };
  /** How uploads to `root` and homes are written (`atomic`, `partial`). */
  readonly uploads?: UploadPolicy;
  /** Serve Prometheus metrics (/metrics, /healthz) here. Default: off. */
  readonly metricsListen?: ListenOption | false | 'off';
  /** Append a transfer log in the xferlog format to this file. Default: off. */
  readonly xferlog?: string | false;
  /** Commands run for events. */
  readonly hooks?: HookOption | readonly HookOption[];
  /** URLs that get a JSON POST for each event. */
  readonly webhooks?: WebhookOption | readonly WebhookOption[];
  /** How hooks and webhooks are delivered (queueSize, concurrency, timeoutMs, retries, retryDelayMs, drainMs). */
  readonly hookDelivery?: Readonly<Record<string, number>>;

  // --- for programs only ----------------------------------------------------------------------

  /** The first line a client sees (`220 <greeting>`). Default: `ftpsd ready.` */
  readonly greeting?: string;
  /** Who may log in, instead of `users` and `anonymous`: its `login()` returns the user's storage and permissions. */
  readonly authenticator?: Authenticator;
  /** The files of `users` and `anonymous`, instead of directories under `root`. */
  readonly storage?: StorageOption;
  /** Extra commands (see `defineCommand`); one with the name of a built-in replaces it. */
  readonly commands?: readonly CommandSpec[];
  /** Extra SITE subcommands (see `defineSiteCommand`). */
  readonly siteCommands?: readonly SiteCommandSpec[];
  /** A pino logger, or anything with its methods; default: silent (or `logLevel`). */
  readonly logger?: Logger;
}

/** The options only a program can give; the config schema does not know them. */
export const PROGRAM_OPTIONS = ['greeting', 'authenticator', 'storage', 'commands', 'siteCommands', 'logger'] as const;
/** Config file options that belong to the `ftpsd` command (a process with a config file). */
export const COMMAND_ONLY_OPTIONS = ['watchConfig', 'runAs'] as const;
/**
 * Config file options `createServer` understands (besides the program options). A new config file
 * option must be added here, or to COMMAND_ONLY_OPTIONS, once createServer does what it says
 * (test/api/options.test.ts checks that every config option is one or the other).
 */
export const CONFIG_OPTIONS = [
  'listen',
  'implicitListen',
  'root',
  'users',
  'anonymous',
  'tls',
  'pasvPorts',
  'pasvAddress',
  'pasvAdvertisedPorts',
  'proxyProtocol',
  'tlsRequired',
  'sessionReuse',
  'logLevel',
  'logFormat',
  'stateDir',
  'timeouts',
  'limits',
  'security',
  'uploads',
  'metricsListen',
  'xferlog',
  'hooks',
  'webhooks',
  'hookDelivery',
] as const;

export type TlsPlan =
  | { kind: 'pem'; cert: string | Buffer; key: string | Buffer; fingerprint256: string }
  | { kind: 'files'; certFile: string; keyFile: string }
  /** `persist`: kept in (and reused from) `config.stateDir`; else made in memory at each start. */
  | { kind: 'self-signed'; persist: boolean };

/** The options, checked and resolved, ready for `listen()`. */
export interface Plan {
  /** The config part, resolved like the command's (absolute paths, defaults). */
  config: ResolvedConfig;
  /** Whether `users`/`anonymous` were given (the built-in authenticator is used). */
  builtinAccounts: boolean;
  /** `logLevel` or `logFormat` was given (and no logger): log to stdout. */
  logToStdout: boolean;
  tls: TlsPlan | undefined;
  greeting: string | undefined;
  authenticator: Authenticator | undefined;
  storage: StorageOption | undefined;
  commands: CommandSpec[];
  siteCommands: SiteCommandSpec[];
  logger: Logger | undefined;
}

/** Satisfies the config schema's argon2id check for a plain password; swapped back after validation. */
const PLAIN_PLACEHOLDER = '$argon2id$v=19$m=19456,t=2,p=1$cGxhaW4tcGFzc3dvcmQ$cGxhaW4tcGFzc3dvcmQtcGxhY2Vob2xkZXI';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const STORAGE_METHODS = ['stat', 'list', 'read', 'write', 'mkdir', 'rmdir', 'remove', 'rename'] as const;

/** Checks and resolves the options; throws a ConfigError listing every problem with its field. */
export function planServer(input: ServerOptions, cwd = process.cwd()): Plan {
  if (!isObject(input)) throw ConfigError.of('', 'createServer: options must be an object');
  const issues: ConfigIssue[] = [];
  const { greeting, authenticator, storage, commands, siteCommands, logger, tls, users, ...rest } = input as Record<string, unknown>;

  // Program options: checked by shape here.
  if (greeting !== undefined && typeof greeting !== 'string') issues.push({ field: 'greeting', message: 'must be a string' });
  if (authenticator !== undefined && !(isObject(authenticator) && typeof authenticator.login === 'function')) {
    issues.push({ field: 'authenticator', message: 'must be an object with a login(request) method' });
  }
  if (storage !== undefined && typeof storage !== 'function' && !isStorage(storage)) {
    issues.push({ field: 'storage', message: `must be a Storage (${STORAGE_METHODS.join(', ')}) or a function of the user name that returns one` });
  }
  checkSpecs(commands, 'commands', issues);
  checkSpecs(siteCommands, 'siteCommands', issues);
  if (logger !== undefined && !(isObject(logger) && ['info', 'warn', 'error', 'debug', 'child'].every((m) => typeof logger[m] === 'function'))) {
    issues.push({ field: 'logger', message: 'must be a pino logger (or have its info, warn, error, debug, child methods)' });
  }
  const tlsPlan = planTls(tls, rest.stateDir, issues);

  // The config options: the config file's schema, once the forms only a program can write are turned into file forms.
  for (const key of COMMAND_ONLY_OPTIONS) {
    if (rest[key] !== undefined) {
      issues.push({ field: key, message: 'is an option of the ftpsd command (a process with a config file), not of createServer' });
      delete rest[key];
    }
  }
  const plain = new Map<number, string>();
  const forSchema: Record<string, unknown> = { ...rest };
  for (const key of ['listen', 'implicitListen'] as const) if (rest[key] !== undefined) forSchema[key] = addressForms(rest[key]);
  if (rest.metricsListen !== undefined) forSchema.metricsListen = addressForm(rest.metricsListen);
  for (const key of ['pasvPorts', 'pasvAdvertisedPorts'] as const) if (rest[key] !== undefined) forSchema[key] = rangeForm(rest[key]);
  if (users !== undefined) forSchema.users = usersForSchema(users, plain, issues);
  const parsed = configSchema.safeParse(forSchema);
  if (!parsed.success) issues.push(...zodIssues(parsed.error));
  if (issues.length > 0 || !parsed.success) throw new ConfigError(issues);

  const file = parsed.data;
  const hasUsers = (file.users?.length ?? 0) > 0;
  const hasAnonymous = file.anonymous !== undefined && (file.anonymous as unknown) !== false;
  const builtinAccounts = hasUsers || hasAnonymous;
  const given = (key: string) => rest[key] !== undefined;
  if (authenticator !== undefined && builtinAccounts) {
    issues.push({ field: 'authenticator', message: 'give either authenticator, or users/anonymous (the built-in authenticator), not both' });
  }
  if (storage !== undefined && authenticator !== undefined) {
    issues.push({ field: 'storage', message: "is not used with authenticator: return each user's storage from its login()" });
  }
  if (storage !== undefined && given('root')) issues.push({ field: 'storage', message: 'give either root or storage, not both' });
  if (storage !== undefined) {
    file.users?.forEach((u, i) => {
      if (u.home !== undefined) issues.push({ field: `users[${i}].home`, message: 'is not used with storage (storage decides what each user sees)' });
    });
    if (isObject(file.anonymous) && file.anonymous.home !== undefined) {
      issues.push({ field: 'anonymous.home', message: 'is not used with storage (storage decides what each user sees)' });
    }
  }
  if (authenticator === undefined && !builtinAccounts) {
    issues.push({ field: 'users', message: 'nobody can log in: give users, anonymous or an authenticator' });
  }
  if (builtinAccounts && storage === undefined && !given('root')) {
    issues.push({ field: 'root', message: 'is required: the directory to serve (or give storage)' });
  }
  const tlsRequired = file.tlsRequired ?? 'login';
  if (!tlsPlan && tls === undefined && tlsRequired !== 'off') {
    issues.push({
      field: 'tls',
      message: `is required with tlsRequired: ${tlsRequired}${given('tlsRequired') ? '' : ' (the default)'}: give 'self-signed', {cert, key} or {certFile, keyFile}, or set tlsRequired: 'off'`,
    });
  }
  if (tls === undefined && (file.implicitListen?.length ?? 0) > 0) issues.push({ field: 'implicitListen', message: 'needs tls (implicit FTPS starts with TLS)' });
  if (logger !== undefined && (given('logLevel') || given('logFormat'))) {
    issues.push({ field: 'logger', message: 'give either logger, or logLevel/logFormat (a logger on stdout), not both' });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  // The same resolution as the command's: absolute paths, defaults, `listen` + `implicitListen` not both empty.
  const layer = fileLayer(file, cwd);
  const config = resolveLayers([{ implicitListen: [], ...layer }], cwd);
  config.users = hasUsers
    ? config.users.map((u, i) => (plain.has(i) ? { ...u, password: { plain: plain.get(i)! } } : u))
    : [];
  config.generatedPassword = undefined;
  config.passwordFromEnv = false;
  config.tls = undefined;
  return {
    config,
    builtinAccounts,
    logToStdout: logger === undefined && (given('logLevel') || given('logFormat')),
    tls: tlsPlan,
    greeting: greeting as string | undefined,
    authenticator: authenticator as Authenticator | undefined,
    storage: storage as StorageOption | undefined,
    commands: [...((commands as CommandSpec[] | undefined) ?? [])],
    siteCommands: [...((siteCommands as SiteCommandSpec[] | undefined) ?? [])],
    logger: logger as Logger | undefined,
  };
}

function isStorage(v: unknown): v is Storage {
  return isObject(v) && STORAGE_METHODS.every((m) => typeof v[m] === 'function');
}

function checkSpecs(specs: unknown, field: string, issues: ConfigIssue[]): void {
  if (specs === undefined) return;
  if (!Array.isArray(specs)) {
    issues.push({ field, message: `must be a list of ${field === 'commands' ? 'defineCommand' : 'defineSiteCommand'}(...) results` });
    return;
  }
  specs.forEach((spec: unknown, i) => {
    if (!isObject(spec) || typeof spec.name !== 'string' || typeof spec.handle !== 'function' || typeof spec.help !== 'string') {
      issues.push({ field: `${field}[${i}]`, message: 'must have a name, a help line and a handle function' });
    } else if (field === 'commands' && !/^[A-Z][A-Z0-9-]{0,15}$/.test(spec.name)) {
      issues.push({ field: `${field}[${i}].name`, message: 'must be an upper-case verb (A-Z, 0-9, -; at most 16 characters)' });
    }
  });
}

/** `{host, port}` to the `HOST:PORT` form the config schema parses (and checks). */
function addressForm(v: unknown): unknown {
  if (isObject(v) && typeof v.host === 'string' && typeof v.port === 'number' && Object.keys(v).length === 2) {
    return formatAddress(v.host === '' ? '::' : v.host, v.port);
  }
  return v;
}

function addressForms(v: unknown): unknown {
  return Array.isArray(v) ? v.map(addressForm) : addressForm(v);
}

function rangeForm(v: unknown): unknown {
  if (isObject(v) && typeof v.min === 'number' && typeof v.max === 'number' && Object.keys(v).length === 2) return `${v.min}-${v.max}`;
  return v;
}

/** Users with their plain passwords swapped for a placeholder hash (remembered in `plain`). */
function usersForSchema(users: unknown, plain: Map<number, string>, issues: ConfigIssue[]): unknown {
  if (!Array.isArray(users)) return users;
  return users.map((u: unknown, i) => {
    if (!isObject(u) || !('password' in u)) return u;
    const pw = u.password;
    if (isObject(pw) && Object.keys(pw).length === 1 && typeof pw.hash === 'string') return { ...u, password: pw.hash };
    const text = typeof pw === 'string' && !pw.startsWith('$argon2') ? pw : isObject(pw) && Object.keys(pw).length === 1 && typeof pw.plain === 'string' ? pw.plain : undefined;
    if (typeof pw === 'string' && text === undefined) return u; // a hash: the schema checks it
    if (text === undefined || text === '') {
      issues.push({
        field: `users[${i}].password`,
        message: text === '' ? 'must not be empty' : 'must be a password, an argon2id hash, {plain: PASSWORD} or {hash: HASH}',
      });
      return { ...u, password: PLAIN_PLACEHOLDER };
    }
    plain.set(i, text);
    return { ...u, password: PLAIN_PLACEHOLDER };
  });
}

const PEM_FORMS = "must be 'self-signed', {cert, key} (PEM text) or {certFile, keyFile} (file paths)";

function planTls(tls: unknown, stateDir: unknown, issues: ConfigIssue[]): TlsPlan | undefined {
  if (tls === undefined) return undefined;
  if (tls === 'self-signed') return { kind: 'self-signed', persist: stateDir !== undefined };
  if (!isObject(tls)) {
    issues.push({ field: 'tls', message: PEM_FORMS });
    return undefined;
  }
  const before = issues.length;
  for (const key of Object.keys(tls)) {
    if (!['cert', 'key', 'certFile', 'keyFile'].includes(key)) issues.push({ field: `tls.${key}`, message: 'unknown option' });
  }
  const pem = 'cert' in tls || 'key' in tls;
  const files = 'certFile' in tls || 'keyFile' in tls;
  if (pem && files) {
    issues.push({ field: 'tls', message: 'give either {cert, key} (PEM text) or {certFile, keyFile} (file paths), not both' });
    return undefined;
  }
  if (!pem && !files) {
    if (issues.length === before) issues.push({ field: 'tls', message: PEM_FORMS });
    return undefined;
  }
  if (pem) {
    for (const key of ['cert', 'key'] as const) {
      const v = tls[key];
      if (v === undefined) issues.push({ field: `tls.${key}`, message: 'is required' });
      else if (!((typeof v === 'string' && v !== '') || Buffer.isBuffer(v))) issues.push({ field: `tls.${key}`, message: 'must be PEM text (a string or a Buffer)' });
    }
    if (issues.length > before) return undefined;
    const cert = tls.cert as string | Buffer;
    const key = tls.key as string | Buffer;
    try {
      const { fingerprint256 } = checkPair(cert.toString(), key.toString(), { cert: 'tls.cert', key: 'tls.key' });
      return { kind: 'pem', cert, key, fingerprint256 };
    } catch (err) {
      if (err instanceof ConfigError) issues.push(...err.issues);
      else throw err;
      return undefined;
    }
  }
  for (const key of ['certFile', 'keyFile'] as const) {
    const v = tls[key];
    if (v === undefined) issues.push({ field: `tls.${key}`, message: 'is required' });
    else if (typeof v !== 'string' || v === '') issues.push({ field: `tls.${key}`, message: 'must be a file path' });
  }
  if (issues.length > before) return undefined;
  return { kind: 'files', certFile: tls.certFile as string, keyFile: tls.keyFile as string };
}
