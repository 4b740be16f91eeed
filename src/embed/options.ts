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
 * - The upload journal (temp files of uploads cut by a crash are removed at the next `listen()`) is kept
 *   only when `stateDir` is given: without one there is no place of the program's own to keep it.
 */
import type { Authenticator } from '../auth/authenticator.js';
import type { CommandSpec } from '../commands/context.js';
import type { SiteCommandSpec } from '../commands/site.js';
import { ConfigError, zodIssues, type ConfigIssue } from '../config/errors.js';
import { resolveLayers, type ResolvedConfig } from '../config/load.js';
import { fileLayer } from '../config/sources.js';
import type { Logger } from '../logger.js';
import type { Storage } from '../storage/storage.js';
import { JOURNAL_DIR } from '../storage/upload-journal.js';
import { join } from 'node:path';
import { isObject, programSchema } from './option-forms.js';
import { COMMAND_ONLY_OPTIONS, type ServerOptions, type StorageOption } from './option-types.js';
import { planTls, type TlsPlan } from './tls-option.js';

export * from './option-types.js';
export type { TlsPlan } from './tls-option.js';

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
  /**
   * Where the upload journal goes (`stateDir/upload-journals`): only when `stateDir` was given and
   * ftpsd serves `root` itself (no `storage`, no `authenticator`).
   */
  journalDir: string | undefined;
}

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

  // The config options: the config file's schema, extended with the forms only a program can write.
  for (const key of COMMAND_ONLY_OPTIONS) {
    if (rest[key] !== undefined) {
      issues.push({ field: key, message: 'is an option of the ftpsd command (a process with a config file), not of createServer' });
      delete rest[key];
    }
  }
  const parsed = programSchema.safeParse(users === undefined ? rest : { ...rest, users });
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
  if (tls === undefined && given('clientCerts')) issues.push({ field: 'clientCerts', message: 'needs tls (client certificates are asked for in the TLS handshake)' });
  if (logger !== undefined && (given('logLevel') || given('logFormat'))) {
    issues.push({ field: 'logger', message: 'give either logger, or logLevel/logFormat (a logger on stdout), not both' });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  // The same resolution as the command's: absolute paths, defaults, `listen` + `implicitListen` not both empty.
  const layer = fileLayer(file, cwd);
  const config = resolveLayers([{ implicitListen: [], ...layer }], cwd);
  if (!hasUsers) config.users = [];
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
    journalDir: given('stateDir') && storage === undefined && authenticator === undefined ? join(config.stateDir, JOURNAL_DIR) : undefined,
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
