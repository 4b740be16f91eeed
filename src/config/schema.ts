/**
 * The config file (YAML), as a strict zod schema: every option the command line has, plus users,
 * timeouts and limits. Unknown keys are errors. Defaults are not applied here (see load.ts) so that the
 * command line and environment can override a file value and a default alike; each description states
 * its default from the one place it is defined (config/defaults.ts, settings.ts).
 *
 * Relative paths in a file are resolved against the file's directory; users' homes against `root`.
 */
import { z, type GlobalMeta } from 'zod';
import { DEFAULT_BAN, DEFAULT_LIMITS, DEFAULT_TIMEOUTS, type BanPolicy, type Limits, type Timeouts } from '../settings.js';
import { parseNetwork } from '../security/access-list.js';
import { DEFAULTS, LOG_LEVELS } from './defaults.js';
import { oneOf, policyFields, type ReloadMode } from '../policy-options.js';
import { parseListenAddress, parsePortRange } from './listen-address.js';
import { refineUserPolicy, uploadsSchema, userPolicyShape } from './user-policy.js';
import { opsFields, opsSchemaShape } from './ops-schema.js';
import { adminFields, adminSchemaShape } from './admin-schema.js';
import { pasvAddressField, serviceFields, serviceSchemaShape } from './service-schema.js';
import { clusterFields, clusterSchemaShape } from './cluster-schema.js';
import { authFields, authSchemaShape } from './auth-schema.js';
import { acmeSchemaShape } from './acme-schema.js';
import { s3SchemaShape } from './s3-schema.js';
import { parsed, text } from './zod-forms.js';
import { clientCertsSchema } from './client-certs.js';

export const HASH_HINT = 'must be an argon2id hash (use: ftpsd hash-password)';
const ARGON2ID = /^\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

function ms(what: string) {
  return z.int({ error: `must be a whole number of milliseconds (${what})` }).min(1, 'must be >= 1');
}

function count(min: number) {
  return z.int({ error: 'must be a whole number' }).min(min, `must be >= ${min}`);
}

function prefixLength(bits: number) {
  return z.int({ error: `must be a prefix length from 1 to ${bits}` }).min(1, `must be >= 1`).max(bits, `must be <= ${bits}`);
}

const address = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  text('an address like 127.0.0.1:2121, [::1]:2121 or :2121').transform(parsed(parseListenAddress)),
);

/** A list of addresses; a single address or `off` (no listener) are accepted too. */
const addressList = z.preprocess(
  (v) => (v === 'off' || v === false ? [] : typeof v === 'string' || typeof v === 'number' ? [v] : v),
  z.array(address, { error: 'must be a list of addresses (HOST:PORT), or off' }),
);

/** The schema of each option, shared by the file, the environment and the command line. */
export const fields = {
  listen: addressList
    .describe(
      `Explicit FTP(S) listeners (AUTH TLS), HOST:PORT each. Quote IPv6 forms: "[::1]:2121". Default: ${DEFAULTS.listen} (all interfaces, dual-stack).`,
    )
    .meta({
      reload: 'restart',
      env: 'FTPSD_LISTEN',
      flag: '--listen <host:port>',
      flagHelp: `explicit FTP(S) listener; repeatable (default: ${DEFAULTS.listen})`,
      list: true,
    }),
  implicitListen: addressList
    .describe(`Implicit FTPS listeners (TLS from the first byte), or off. Default: ${DEFAULTS.implicitListen}.`)
    .meta({
      reload: 'restart',
      env: 'FTPSD_IMPLICIT_LISTEN',
      flag: '--implicit-listen <host:port|off>',
      flagHelp: `implicit FTPS listener; repeatable, or off (default: ${DEFAULTS.implicitListen})`,
      list: true,
    }),
  root: text('a directory path or s3://BUCKET[/PREFIX]')
    .describe(`The served directory, created if missing, or an S3 bucket, s3://BUCKET[/PREFIX] (see the s3 block); users' homes are relative to it. Default: ${DEFAULTS.root}.`)
    .meta({
      reload: 'live',
      env: 'FTPSD_ROOT',
      flag: '--root <dir>',
      flagHelp: `served directory, created if missing, or s3://BUCKET[/PREFIX] (default: ${DEFAULTS.root})`,
      path: true,
    }),
  pasvPorts: text('a port range MIN-MAX')
    .transform(parsed(parsePortRange))
    .describe('Passive data ports, MIN-MAX (e.g. 50000-50100). Default: any free port.')
    .meta({
      reload: 'new-connections',
      env: 'FTPSD_PASV_PORTS',
      flag: '--pasv-ports <min-max>',
      flagHelp: 'passive data port range, e.g. 50000-50100 (default: any free port)',
    }),
  pasvAddress: pasvAddressField,
  ...policyFields,
  logLevel: oneOf(LOG_LEVELS)
    .describe(`Log level of the JSON log lines on stdout. Default: ${DEFAULTS.logLevel}.`)
    .meta({
      reload: 'live',
      env: 'FTPSD_LOG_LEVEL',
      flag: '--log-level <level>',
      flagHelp: `${LOG_LEVELS.join('|')} (default: ${DEFAULTS.logLevel})`,
    }),
  stateDir: text('a directory path')
    .describe(
      `Where the generated self-signed certificate (cert.pem, key.pem) and the upload journals (upload-journals/: temp files of uploads cut by a crash, removed at the next start) are kept. Default: ${DEFAULTS.stateDir}.`,
    )
    .meta({
      reload: 'new-connections',
      env: 'FTPSD_STATE_DIR',
      flag: '--state-dir <dir>',
      flagHelp: `where the generated certificate and the upload journals are kept (default: ${DEFAULTS.stateDir})`,
      path: true,
    }),
  ...opsFields,
  ...adminFields,
  ...serviceFields,
  ...clusterFields,
  ...authFields,
} as const;

export const userName = text('a user name')
  .max(64, 'must be at most 64 characters')
  .regex(/^[^\s:\p{Cc}]+$/u, 'must not contain spaces, colons or control characters');

/** An argon2id PHC hash: the config file's form of a password. */
export const passwordHash = z
  .string({ error: (iss) => (iss.input === undefined ? 'is required' : HASH_HINT) })
  .regex(ARGON2ID, HASH_HINT)
  .describe('An argon2id PHC hash, from `ftpsd hash-password`. Plain passwords are refused.');

/** One account, with `password` in the given form (createServer extends it with plain passwords). */
export function userSchema<P extends z.ZodType>(password: P) {
  return z
    .strictObject(
      {
        name: userName.describe('Login name.'),
        password: password.optional(),
        home: text('a directory path')
          .optional()
          .describe('Home directory, relative to root (or absolute), created if missing. Default: root.'),
        readOnly: z.boolean({ error: 'must be true or false' }).optional().describe('Download only. Default: false.'),
        ...userPolicyShape,
      },
      { error: 'must be a mapping with name, password, home, readOnly, login, certificates, permissions, rules, quota' },
    )
    .superRefine(refineUserPolicy)
    .superRefine((u: { password?: unknown; login?: string | undefined }, ctx) => {
      // Only an account that logs in by its client certificate alone may do without a password.
      if (u.password === undefined && u.login !== 'certificate') ctx.addIssue({ code: 'custom', path: ['password'], message: 'is required (unless login: certificate)' });
    })
    .describe('One account.');
}

/** A list of accounts. */
export function usersSchema<U extends z.ZodType>(user: U) {
  return z.array(user, { error: 'must be a list of users' });
}

const user = userSchema(passwordHash);

const anonymous = z
  .preprocess(
    (v) => (v === true ? {} : v === false ? undefined : v),
    z
      .strictObject(
        { home: text('a directory path').optional().describe('Default: root.') },
        { error: 'must be true, false or a mapping {home: DIR}' },
      )
      .optional(),
  )
  .describe('Anonymous read-only access (users "anonymous" and "ftp", any password): true, or {home: DIR}. Default: false.');

const tls = z
  .strictObject(
    {
      cert: text('a file path').describe('PEM certificate (chain allowed).'),
      key: text('a file path').describe('PEM private key.'),
    },
    { error: 'must be a mapping {cert: FILE, key: FILE}' },
  )
  .describe('Certificate and key files (not with acme). Default: a self-signed ECDSA certificate generated in stateDir.');

const timeoutsShape = {
  idleMs: ms('idle control connection').describe(`Idle control connection. Default: ${DEFAULT_TIMEOUTS.idleMs}.`),
  loginMs: ms('connect to login').describe(`From connect to successful login. Default: ${DEFAULT_TIMEOUTS.loginMs}.`),
  dataConnectMs: ms('data connection').describe(`Opening a data connection. Default: ${DEFAULT_TIMEOUTS.dataConnectMs}.`),
  handshakeMs: ms('TLS handshake').describe(`TLS handshakes. Default: ${DEFAULT_TIMEOUTS.handshakeMs}.`),
  cccMs: ms('CCC').describe(`The close_notify exchange of CCC. Default: ${DEFAULT_TIMEOUTS.cccMs}.`),
  stalledTransferMs: ms('stalled transfer').describe(
    `A transfer with no progress. Default: ${DEFAULT_TIMEOUTS.stalledTransferMs}.`,
  ),
} satisfies Record<keyof Timeouts, z.ZodType>;

const limitsShape = {
  maxLineBytes: count(512).describe(`Longest command line. Default: ${DEFAULT_LIMITS.maxLineBytes}.`),
  maxBufferedBytes: count(1024).describe(
    `Unread control bytes before the socket is paused. Default: ${DEFAULT_LIMITS.maxBufferedBytes}.`,
  ),
  maxBadCommands: count(1).describe(
    `Consecutive unknown or malformed commands before disconnect. Default: ${DEFAULT_LIMITS.maxBadCommands}.`,
  ),
  maxLoginFailures: count(1).describe(
    `Failed logins on one connection before disconnect. Default: ${DEFAULT_LIMITS.maxLoginFailures}.`,
  ),
  loginFailureDelayMs: count(0).describe(
    `Every failed login is answered this many milliseconds after PASS arrived (the same for every cause). Default: ${DEFAULT_LIMITS.loginFailureDelayMs}.`,
  ),
  maxSessions: count(1).describe(`Sessions on the whole server. Default: ${DEFAULT_LIMITS.maxSessions}.`),
  maxUnauthenticated: count(1).describe(
    `Connections not logged in, a part of maxSessions; when full, a new connection pushes out the oldest of them (421). Default: a quarter of maxSessions (${DEFAULT_LIMITS.maxUnauthenticated}).`,
  ),
  maxSessionsPerAddress: count(1).describe(
    `Sessions from one client address. Default: ${DEFAULT_LIMITS.maxSessionsPerAddress}.`,
  ),
  maxSessionsPerUser: count(1).describe(
    `Logged-in sessions of one user. Default: ${DEFAULT_LIMITS.maxSessionsPerUser}.`,
  ),
  sessionDownloadBytesPerSecond: count(0).describe('Bandwidth of one session\'s downloads, bytes per second; 0: no limit. Default: 0.'),
  sessionUploadBytesPerSecond: count(0).describe('Bandwidth of one session\'s uploads, bytes per second; 0: no limit. Default: 0.'),
  serverDownloadBytesPerSecond: count(0).describe('Bandwidth of all downloads (per process in cluster mode), bytes per second; 0: no limit. Default: 0.'),
  serverUploadBytesPerSecond: count(0).describe('Bandwidth of all uploads (per process in cluster mode), bytes per second; 0: no limit. Default: 0.'),
} satisfies Record<keyof Limits, z.ZodType>;

const banShape = {
  failures: count(1).describe(`Failed logins from one address within windowMs that ban it. Default: ${DEFAULT_BAN.failures}.`),
  windowMs: ms('ban window').describe(`Default: ${DEFAULT_BAN.windowMs}.`),
  durationMs: ms('ban duration').describe(`How long a ban lasts. Default: ${DEFAULT_BAN.durationMs}.`),
  maxEntries: count(1).describe(`Networks remembered (oldest forgotten first). Default: ${DEFAULT_BAN.maxEntries}.`),
  ipv4Prefix: prefixLength(32).describe(
    `Leading bits of an IPv4 address that count and are banned together (32: each address). Default: ${DEFAULT_BAN.ipv4Prefix}.`,
  ),
  ipv6Prefix: prefixLength(128).describe(
    `Leading bits of an IPv6 address that count and are banned together (64: a /64, one client's usual share). Default: ${DEFAULT_BAN.ipv6Prefix}.`,
  ),
} satisfies Record<keyof BanPolicy, z.ZodType>;

const BAN_ERROR = 'must be off, or a mapping of failures, windowMs, durationMs, maxEntries, ipv4Prefix, ipv6Prefix';
const ban = z
  .preprocess(
    (v) => (v === 'off' ? false : v),
    z.union([z.literal(false), z.strictObject(banShape).partial()], { error: BAN_ERROR }),
  )
  .describe('Per-address bans after repeated failed logins, or off.');

const network = text('a network like 192.0.2.0/24 or 2001:db8::/32').transform(
  parsed((s) => {
    parseNetwork(s);
    return s;
  }),
);
/** A list of networks; a single network is accepted too. */
const networkList = z.preprocess(
  (v) => (typeof v === 'string' ? [v] : v),
  z.array(network, { error: 'must be a list of networks (CIDR)' }),
);

const securityShape = {
  ban,
  allow: networkList.describe('Only these networks may connect (CIDR, IPv4 or IPv6). Default: everyone.'),
  deny: networkList.describe('These networks are refused at connect; deny wins over allow. Default: none.'),
  sessionReuseAllow: z
    .strictObject(
      {
        users: z.array(z.string({ error: 'must be a user name' }), { error: 'must be a list of user names' }).optional().describe('These users.'),
        networks: networkList.optional().describe('Clients in these networks (CIDR).'),
      },
      { error: 'must be a mapping {users: [...], networks: [...]}' },
    )
    .describe(
      'Under sessionReuse: require, sessionReuse: allow for these users or client networks only (clients that cannot resume the control TLS session on data connections: Java/JSSE). Default: none.',
    ),
};

/** Each field of `shape`, optional (as every top-level option is). */
function optional<S extends Record<string, z.ZodType>>(shape: S): { [K in keyof S]: z.ZodOptional<S[K]> } {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as { [K in keyof S]: z.ZodOptional<S[K]> };
}

const mapping = (what: string) => ({ error: `must be a mapping of ${what}` });

const configShape = {
  listen: fields.listen.optional(),
  implicitListen: fields.implicitListen.optional(),
  root: fields.root.optional(),
  users: usersSchema(user)
    .optional()
    .describe('Accounts. Default: one account "ftpsd" with a random password printed at start.')
    .meta({ reload: 'live' }),
  anonymous: anonymous.optional().meta({ reload: 'live' }),
  tls: tls.optional().meta({ reload: 'new-connections' }),
  clientCerts: clientCertsSchema.optional().meta({ reload: 'new-connections' }),
  pasvPorts: fields.pasvPorts.optional(),
  pasvAddress: fields.pasvAddress.optional(),
  ...optional(policyFields),
  logLevel: fields.logLevel.optional(),
  stateDir: fields.stateDir.optional(),
  timeouts: z
    .strictObject(timeoutsShape, mapping('timeouts'))
    .partial()
    .optional()
    .describe('Timeouts in milliseconds.')
    .meta({ reload: 'new-connections' }),
  limits: z
    .strictObject(limitsShape, mapping('limits'))
    .partial()
    .optional()
    .describe('Protocol limits.')
    .meta({ reload: 'new-connections' }),
  uploads: uploadsSchema.optional().meta({ reload: 'new-connections' }),
  security: z
    .strictObject(securityShape, mapping('ban, allow, deny, sessionReuseAllow'))
    .partial()
    .optional()
    .describe('Login bans and access lists.')
    .meta({ reload: 'new-connections' }),
  ...opsSchemaShape,
  ...adminSchemaShape,
  ...serviceSchemaShape,
  ...clusterSchemaShape,
  ...authSchemaShape,
  ...acmeSchemaShape,
  ...s3SchemaShape,
};

type ConfigKey = keyof typeof configShape;

/** A top-level option's metadata: that of the field its `.optional()` wraps, and its own. */
function metaOf(field: z.ZodType): GlobalMeta {
  return { ...(field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType).meta() : undefined), ...field.meta() };
}

/**
 * The shape with each option's metadata (reload mode, command-only mark, ...) on the top-level field,
 * also for the forms that override it (createServer's, embed/option-forms.ts).
 */
function withMeta<S extends Record<string, z.ZodType>>(shape: S): S {
  const out: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(shape)) {
    out[key] = field.meta({ ...metaOf((configShape as Record<string, z.ZodType>)[key]!), ...metaOf(field) });
  }
  return out as S;
}

/** Checks across options: user names are unique. */
function refineConfig(config: { users?: readonly { name: string }[] | undefined }, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  config.users?.forEach((u, i) => {
    if (seen.has(u.name)) ctx.addIssue({ code: 'custom', path: ['users', i, 'name'], message: `duplicate user name "${u.name}"` });
    seen.add(u.name);
  });
}

/**
 * The config schema with some top-level options in other forms (the forms a program can write, see
 * embed/option-forms.ts); each keeps its reload mark, and the checks across options stay.
 */
export function configSchemaWith<O extends { [K in ConfigKey]?: z.ZodType }>(overrides: O) {
  return z
    .strictObject(withMeta({ ...configShape, ...overrides } as Omit<typeof configShape, keyof O> & O), {
      error: 'the config file must be a mapping of options (key: value)',
    })
    .superRefine((config, ctx) => refineConfig(config as Parameters<typeof refineConfig>[0], ctx));
}

export const configSchema = configSchemaWith({});

export type ConfigFile = z.output<typeof configSchema>;

/** How a reload applies the top-level option `key` (undefined: not an option of the config file). */
export function reloadMode(key: string): ReloadMode | undefined {
  return (configSchema.shape as Record<string, z.ZodType | undefined>)[key]?.meta()?.reload;
}
