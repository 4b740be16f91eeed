/**
 * Config schema of the options for running ftpsd as a service: the passive address per client network
 * and the port mapping (NAT, containers), trusted PROXY-protocol proxies, reloading the config when its
 * file changes, and the user to run as after binding. Kept apart from schema.ts, which spreads these in
 * (the same schemas check the file, the environment and the command line).
 */
import { z } from 'zod';
import { checkPasvAddress, type PasvAddressRule } from '../security/pasv-address.js';
import { parseNetwork } from '../security/access-list.js';
import { parsePortRange } from './listen-address.js';
import { parsed, text } from './zod-forms.js';

const checkNetwork = (s: string) => {
  parseNetwork(s);
  return s;
};

/**
 * The one-line form (flags, environment, or a string in the file): `ADDRESS`, or comma-separated
 * `NETWORK=ADDRESS` rules with an optional last catch-all `ADDRESS`: `10.0.0.0/8=10.1.2.3,203.0.113.7`.
 */
export function parsePasvAddressText(value: string): string | PasvAddressRule[] {
  const items = value.split(',').map((s) => s.trim());
  if (items.length === 1 && !items[0]!.includes('=')) {
    checkPasvAddress(items[0]!);
    return items[0]!;
  }
  const rules = items.map((item): PasvAddressRule => {
    if (item === '') throw new Error('an empty rule (two commas in a row?)');
    const eq = item.indexOf('=');
    if (eq < 0) {
      checkPasvAddress(item);
      return { address: item };
    }
    const network = item.slice(0, eq).trim();
    const address = item.slice(eq + 1).trim();
    checkNetwork(network);
    checkPasvAddress(address);
    return { network, address };
  });
  checkCatchAllLast(rules);
  return rules;
}

function checkCatchAllLast(rules: readonly PasvAddressRule[]): void {
  const i = rules.findIndex((r) => r.network === undefined);
  if (i >= 0 && i < rules.length - 1) throw new Error('a rule without a network matches every client: it must come last');
}

const pasvRule = z.strictObject(
  {
    network: text('a network like 10.0.0.0/8').transform(parsed(checkNetwork)).optional(),
    address: text('an IPv4 address or a host name').transform(
      parsed((s) => {
        checkPasvAddress(s);
        return s;
      }),
    ),
  },
  { error: 'must be a mapping {network: CIDR, address: ADDRESS}' },
);

const PASV_FORMS = 'must be an IPv4 address, a host name, or a list of {network, address}';

const pasvAddressText = text('an IPv4 address or a host name').transform(parsed(parsePasvAddressText));
const pasvRules = z.array(pasvRule).superRefine((rules, ctx) => {
  const i = rules.findIndex((r) => r.network === undefined);
  if (i >= 0 && i < rules.length - 1) {
    ctx.addIssue({ code: 'custom', path: [i], message: 'a rule without a network matches every client: it must come last' });
  }
});

/**
 * `pasvAddress` (schema.ts has it among the original options): the one-line form or a list of rules.
 * Dispatched by shape rather than a union, so every problem inside a rule is reported at its own path.
 */
export const pasvAddressField = z
  .unknown()
  .transform((value, ctx): string | PasvAddressRule[] => {
    const schema = typeof value === 'string' ? pasvAddressText : Array.isArray(value) ? pasvRules : undefined;
    if (!schema) {
      ctx.addIssue({ code: 'custom', message: PASV_FORMS });
      return z.NEVER;
    }
    const result = schema.safeParse(value);
    if (result.success) return result.data as string | PasvAddressRule[];
    for (const issue of result.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
    return z.NEVER;
  })
  .describe(
    'The IPv4 address advertised in PASV replies (NAT): an address or a host name (resolved at PASV time), or rules {network, address} by client network, first match first. Default: the address the client connected to.',
  )
  .meta({
    reload: 'new-connections',
    env: 'FTPSD_PASV_ADDRESS',
    flag: '--pasv-address <address>',
    flagHelp: 'IPv4 address or host name advertised in PASV replies (NAT), or rules NETWORK=ADDRESS,...,ADDRESS',
  });

/** `true`/`false` as written in a file, or yes/no, on/off, 1/0 from the environment. */
const flag = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    if (['true', 'yes', 'on', '1'].includes(s)) return true;
    if (['false', 'no', 'off', '0'].includes(s)) return false;
    return v;
  },
  z.boolean({ error: 'must be true or false' }),
);

/** A user or group: a name, or a number. */
const principal = (what: 'user' | 'group') =>
  z
    .preprocess(
      (v) => (typeof v === 'number' ? String(v) : v),
      text(`a ${what} name or a numeric id`).regex(/^(\d{1,10}|[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?)$/, `must be a ${what} name or a numeric id`),
    )
    .describe(what === 'user' ? 'User name or uid.' : "Group name or gid. Default: the user's primary group.");

/** The schema of each option, shared by the file, the environment and the command line. */
export const serviceFields = {
  pasvAdvertisedPorts: text('a port range MIN-MAX')
    .transform(parsed(parsePortRange))
    .describe(
      'The passive ports as clients must see them when a port mapping (container, NAT) differs from pasvPorts: the same number of ports, same offset. Default: pasvPorts.',
    )
    .meta({
      reload: 'new-connections',
      env: 'FTPSD_PASV_ADVERTISED_PORTS',
      flag: '--pasv-advertised-ports <min-max>',
      flagHelp: 'passive ports as clients see them (port mapping; same size as --pasv-ports)',
    }),
  proxyProtocol: z
    .preprocess(
      (v) => (v === 'off' || v === false ? [] : typeof v === 'string' ? [v] : v),
      z.array(text('a network like 10.0.0.0/8').transform(parsed(checkNetwork)), { error: 'must be a list of networks (CIDR), or off' }),
    )
    .describe(
      'Trusted proxies (CIDR): their connections must start with a PROXY protocol header (v1 or v2), and its client address counts; anyone else must not send one. Default: none (off).',
    )
    .meta({
      reload: 'new-connections',
      env: 'FTPSD_PROXY_PROTOCOL',
      flag: '--proxy-protocol <cidr>',
      flagHelp: 'trusted proxy network: its connections must start with a PROXY protocol header (v1/v2); repeatable',
      list: true,
    }),
  watchConfig: flag.describe('Reload the config file when it changes (as on SIGHUP). Default: false.').meta({
    reload: 'live',
    command: true,
    env: 'FTPSD_WATCH_CONFIG',
    flag: '--watch-config',
    flagHelp: 'reload the config file when it changes, as on SIGHUP',
  }),
  runAsUser: principal('user').meta({
    env: 'FTPSD_RUN_AS_USER',
    flag: '--run-as-user <name|uid>',
    flagHelp: 'after binding the ports and reading the certificate, switch to this user',
  }),
  runAsGroup: principal('group').meta({
    env: 'FTPSD_RUN_AS_GROUP',
    flag: '--run-as-group <name|gid>',
    flagHelp: "with --run-as-user: this group instead of the user's primary group",
  }),
  umask: z
    .preprocess(
      // YAML reads an unquoted 022 as the number 22 (and 0o22 as 18): give such a number its digits back.
      (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? String(v) : v),
      text('an octal mode like 022').regex(/^0?[0-7]{1,3}$/, 'must be an octal mode like 022 or 027'),
    )
    .transform((s) => parseInt(s, 8))
    .describe('The file mode creation mask of the process (new directories and files), octal. Default: 022.')
    .meta({
      reload: 'live',
      command: true,
      env: 'FTPSD_UMASK',
      flag: '--umask <octal>',
      flagHelp: 'file mode creation mask for new directories and files, e.g. 027 (default: 022)',
    }),
} as const;

export const serviceSchemaShape = {
  pasvAdvertisedPorts: serviceFields.pasvAdvertisedPorts.optional(),
  proxyProtocol: serviceFields.proxyProtocol.optional(),
  watchConfig: serviceFields.watchConfig.optional(),
  umask: serviceFields.umask.optional(),
  runAs: z
    .strictObject(
      { user: serviceFields.runAsUser, group: serviceFields.runAsGroup.optional() },
      { error: 'must be a mapping {user: NAME|UID, group: NAME|GID}' },
    )
    .optional()
    .describe('After binding its ports and reading the certificate, switch to this user (start as root). Default: stay as started.')
    .meta({ reload: 'restart', command: true }),
};
