/**
 * The types of `createServer`'s options (see options.ts for how they are checked), and the lists of
 * option names: the config file's, the command's own, and those only a program can give.
 */
import type { Buffer } from 'node:buffer';
import type { Authenticator } from '../auth/authenticator.js';
import type { Permission } from '../auth/permissions.js';
import type { PermissionRule } from '../auth/rules.js';
import type { CommandSpec } from '../commands/context.js';
import type { SiteCommandSpec } from '../commands/site.js';
import type { PortRange } from '../data/passive.js';
import type { Logger, LogLevel } from '../logger.js';
import type { BanPolicy, Limits, Timeouts, UploadOptions } from '../settings.js';
import type { PolicySettings } from '../policy-options.js';
import type { z } from 'zod';
import { configSchema } from '../config/schema.js';
import type { programSchema } from './option-forms.js';
import { SETTINGS_OPTIONS, type SettingsOptions } from '../settings.js';
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

/** A hook: `'EVENT=COMMAND'` or `{event, command}` (see docs/operations.md, Hooks and webhooks). */
export type HookOption = string | { readonly event: string; readonly command: string | readonly string[] };
/** A webhook: a URL, or `{url, events}`. */
export type WebhookOption = string | { readonly url: string; readonly events?: readonly string[] };

/** The config file's options written out below (with their program forms and docs). */
interface ConfigOptions extends Readonly<Partial<PolicySettings>> {
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
  // The policy options (TLS policy, session reuse, data protection: policy-options.ts), as in the config file.
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
  /** How uploads to `root` and homes are written (`atomic`, `partial`) and ended (`requireCloseNotify`). */
  readonly uploads?: UploadOptions;
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
}

/** Options of the `ftpsd` command, not of createServer (COMMAND_ONLY_OPTIONS below). */
type CommandOptions = 'watchConfig' | 'umask' | 'runAs' | 'workers' | 'workerHeartbeat';

/**
 * Every other option of the config schema, typed as the schema reads it (createServer's schema,
 * embed/option-forms.ts): an option added to the schema is an option of createServer with no line here.
 */
type SchemaOptions = Readonly<Omit<z.input<typeof programSchema>, keyof ConfigOptions | CommandOptions>>;

/**
 * The options of {@link createServer}. Every config file option has the same name and meaning here (see
 * docs/configuration.md, Config file); the last group is for programs only.
 */
export interface ServerOptions extends ConfigOptions, SchemaOptions {
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

/**
 * The options {@link FtpsdServer.reconfigure} changes on a running server: the settings new connections
 * get (SETTINGS_OPTIONS of settings.ts but `uploads`, whose `atomic` and `partial` belong to the storage).
 */
export type ReconfigurableOption = Exclude<keyof SettingsOptions, 'uploads'>;
export const RECONFIGURABLE_OPTIONS: readonly ReconfigurableOption[] = SETTINGS_OPTIONS.filter((k): k is ReconfigurableOption => k !== 'uploads');
/** The argument of {@link FtpsdServer.reconfigure}: each option given replaces the one in force. */
export type LiveOptions = Pick<ServerOptions, ReconfigurableOption>;

/** The options only a program can give; the config schema does not know them. */
export const PROGRAM_OPTIONS = ['greeting', 'authenticator', 'storage', 'commands', 'siteCommands', 'logger'] as const;
/** The config file's top-level options, from its schema. */
const SCHEMA_OPTIONS = Object.keys(configSchema.shape) as (keyof typeof configSchema.shape)[];
/** Config file options that belong to the `ftpsd` command (a process with a config file): their `command` mark on the schema. */
export const COMMAND_ONLY_OPTIONS: readonly string[] = SCHEMA_OPTIONS.filter((k) => configSchema.shape[k].meta()?.command);
/** Config file options `createServer` understands (besides the program options): every other one. */
export const CONFIG_OPTIONS: readonly string[] = SCHEMA_OPTIONS.filter((k) => !COMMAND_ONLY_OPTIONS.includes(k));
