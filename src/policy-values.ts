/**
 * The protocol policy options' names, values and defaults without their schema: what the FTP server
 * (settings.ts) and the resolved config need at run time, so that a process that does not read a config
 * file (a cluster worker, an embedded server) loads no zod. Their schema, descriptions, flags and
 * environment variables are declared in policy-options.ts, from these values.
 */

/** The policy options' names. */
export type PolicyName = 'tlsRequired' | 'sessionReuse' | 'dataProtection';

/** The policy options, resolved (what ServerSettings and ResolvedConfig hold). */
export interface PolicySettings {
  tlsRequired: 'off' | 'login' | 'all';
  sessionReuse: 'require' | 'require-or-client-cert' | 'allow' | 'off';
  dataProtection: 'tls-sessions' | 'optional';
}

export const POLICY_DEFAULT = { tlsRequired: 'login', sessionReuse: 'require', dataProtection: 'tls-sessions' } as const satisfies PolicySettings;
export const POLICY_VALUES = {
  tlsRequired: ['off', 'login', 'all'],
  sessionReuse: ['require', 'require-or-client-cert', 'allow', 'off'],
  dataProtection: ['tls-sessions', 'optional'],
} as const satisfies { readonly [K in PolicyName]: readonly [PolicySettings[K], ...PolicySettings[K][]] };

export const POLICY_NAMES = Object.keys(POLICY_VALUES) as PolicyName[];

export const POLICY_DEFAULTS: Readonly<PolicySettings> = POLICY_DEFAULT;

/** `off`: plain FTP allowed; `login`: TLS before USER/PASS; `all`: also PROT P for every transfer. */
export type TlsRequired = PolicySettings['tlsRequired'];
/**
 * `require`: protected data connections must resume their control connection's TLS session;
 * `require-or-client-cert`: or present the same verified client certificate as the control connection; `allow`; `off`.
 */
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
