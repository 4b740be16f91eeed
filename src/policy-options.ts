/**
 * The protocol policy options (one value each: tlsRequired, sessionReuse, dataProtection), declared once:
 * values and description (the zod schema), default, environment variable, command-line flag and how a
 * reload applies them (zod metadata). Every other place derives them from here: the config file, FTPSD_*,
 * the command line (cli/main.ts), ResolvedConfig, createServer's and FtpServer's options, reconfigure()
 * and ServerSettings. The values and defaults themselves are in policy-values.ts (no zod: the server
 * reads them at run time). A new policy option is one entry in each plus the code that reads it.
 *
 * Also the option metadata every option of the config schema carries (GlobalMeta below; see
 * docs/architecture.md, Adding an option).
 */
import { z } from 'zod';
import { POLICY_DEFAULT, POLICY_VALUES } from './policy-values.js';

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

const DEFAULT = POLICY_DEFAULT;
const VALUES = POLICY_VALUES;

/** A policy flag's help: its values, a note, its default. */
const help = (name: keyof typeof DEFAULT, note = '') => `${VALUES[name].join('|')}${note ? `: ${note}` : ''} (default: ${DEFAULT[name]})`;

export const policyFields = {
  tlsRequired: oneOf(VALUES.tlsRequired)
    .describe(`off: plain FTP allowed; login: TLS before USER/PASS; all: also PROT P for every transfer. Default: ${DEFAULT.tlsRequired}.`)
    .meta({ reload: 'new-connections', env: 'FTPSD_TLS_REQUIRED', flag: '--tls-required <when>', flagHelp: help('tlsRequired') }),
  sessionReuse: oneOf(VALUES.sessionReuse)
    .describe(
      `require: protected data connections must resume their control connection's TLS session; require-or-client-cert: or present the same verified client certificate as the control connection (for clients that never resume, such as Java's JSSE); allow: resumption offered, not required; off: never offered. Default: ${DEFAULT.sessionReuse}.`,
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

// The names, values and defaults (zod-free, for the server at run time).
export { POLICY_DEFAULTS, POLICY_NAMES, pickPolicy } from './policy-values.js';
export type { DataProtection, PolicyName, PolicySettings, SessionReuse, TlsRequired } from './policy-values.js';
