/**
 * The protocol policy options (one value each: tlsRequired, sessionReuse, dataProtection), declared once:
 * values and description (the zod schema), default, environment variable, command-line flag and how a
 * reload applies them (zod metadata). Every other place derives them from here: the config file, FTPSD_*,
 * the command line (cli/main.ts), ResolvedConfig, createServer's and FtpServer's options, reconfigure()
 * and ServerSettings. A new policy option is one entry here plus the code that reads it.
 *
 * Also the option metadata every option of the config schema carries (GlobalMeta below; see
 * docs/architecture.md, Adding an option).
 */
import { z } from 'zod';

/**
 * How a config reload applies an option: `live` (at once, also for running sessions), `new-connections`
 * (sessions keep what they started with), `restart` (kept as it is until the process restarts).
 */
export type ReloadMode = 'live' | 'new-connections' | 'restart';

declare module 'zod' {
  interface GlobalMeta {
    /** How a config reload applies this option (top-level options only). */
    reload?: ReloadMode;
    /** Its environment variable (FTPSD_*). */
    env?: string;
    /** Its `ftpsd serve` flag, with the argument name (`--tls-required <when>`). */
    flag?: string;
    /** The flag's whole help text (before ` [env: ...]`); without it: the values, flagNote and the default. */
    flagHelp?: string;
    /** A list: comma-separated in its variable, a repeatable flag, and a lone `off` means none. */
    list?: boolean;
    /** A repeatable flag (each use adds an entry). */
    repeatable?: boolean;
    /** An option of the `ftpsd` command only (a process with a config file), refused by createServer. */
    command?: boolean;
    /** A path: relative values are resolved against the config file's directory, or the working directory. */
    path?: boolean;
  }
}

/** A choice among `values`; the error lists them. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `must be one of ${values.join(', ')}` });
}

const DEFAULT = { tlsRequired: 'login', sessionReuse: 'require', dataProtection: 'tls-sessions' } as const;
const VALUES = { tlsRequired: ['off', 'login', 'all'], sessionReuse: ['require', 'allow', 'off'], dataProtection: ['tls-sessions', 'optional'] } as const;

/** A policy flag's help: its values, a note, its default. */
const help = (name: keyof typeof DEFAULT, note = '') => `${VALUES[name].join('|')}${note ? `: ${note}` : ''} (default: ${DEFAULT[name]})`;

export const policyFields = {
  tlsRequired: oneOf(VALUES.tlsRequired)
    .describe(`off: plain FTP allowed; login: TLS before USER/PASS; all: also PROT P for every transfer. Default: ${DEFAULT.tlsRequired}.`)
    .meta({ reload: 'new-connections', env: 'FTPSD_TLS_REQUIRED', flag: '--tls-required <when>', flagHelp: help('tlsRequired') }),
  sessionReuse: oneOf(VALUES.sessionReuse)
    .describe(
      `require: protected data connections must resume their control connection's TLS session; allow: resumption offered, not required; off: never offered. Default: ${DEFAULT.sessionReuse}.`,
    )
    .meta({ reload: 'new-connections', env: 'FTPSD_SESSION_REUSE', flag: '--session-reuse <policy>', flagHelp: help('sessionReuse') }),
  dataProtection: oneOf(VALUES.dataProtection)
    .describe(
      `tls-sessions: a session that used TLS must protect its data connections (PROT P); optional: PROT C allowed, and then anyone on the client's address (carrier-grade NAT, a shared host) who connects to the passive port first receives the download or supplies the upload. Default: ${DEFAULT.dataProtection}.`,
    )
    .meta({
      reload: 'new-connections',
      env: 'FTPSD_DATA_PROTECTION',
      flag: '--data-protection <policy>',
      flagHelp: help(
        'dataProtection',
        "optional lets TLS sessions use clear data (PROT C), which a neighbour on the client's address can take",
      ),
    }),
} as const;

export type PolicyName = keyof typeof policyFields;
export const POLICY_NAMES = Object.keys(policyFields) as PolicyName[];

/** The policy options, resolved (what ServerSettings and ResolvedConfig hold). */
export type PolicySettings = { -readonly [K in PolicyName]: z.output<(typeof policyFields)[K]> };

export const POLICY_DEFAULTS: Readonly<PolicySettings> = DEFAULT;

/** `off`: plain FTP allowed; `login`: TLS before USER/PASS; `all`: also PROT P for every transfer. */
export type TlsRequired = PolicySettings['tlsRequired'];
/** `require`: protected data connections must resume their control connection's TLS session; `allow`; `off`. */
export type SessionReuse = PolicySettings['sessionReuse'];
/**
 * Data protection for sessions whose control connection used TLS (AUTH TLS or implicit FTPS; CCC does
 * not end it). `tls-sessions` (default): such a session must send PROT P before any transfer (PROT C is
 * refused with 534, a clear transfer with 521). `optional`: PROT C allowed, so anyone who reaches the
 * passive port first (same address: carrier-grade NAT, a shared host) can take the transfer: the
 * passive port is only checked against the client's address, and clear data carries no proof of who
 * opened it. `tlsRequired: all` requires PROT P whatever this says.
 */
export type DataProtection = PolicySettings['dataProtection'];

/** The policy options `source` sets (undefined ones left out). */
export function pickPolicy(source: Partial<PolicySettings>): Partial<PolicySettings> {
  const out: Partial<Record<PolicyName, string>> = {};
  for (const name of POLICY_NAMES) if (source[name] !== undefined) out[name] = source[name];
  return out as Partial<PolicySettings>;
}
