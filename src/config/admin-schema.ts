/**
 * Config schema of the admin console (src/admin/): `adminListen` (`--admin-listen`, FTPSD_ADMIN_LISTEN)
 * and the `admin` block (`tls`, `users`, `hosts`). Kept apart from schema.ts, which spreads these in.
 */
import { z } from 'zod';
import { isArgon2Hash } from '../auth/password.js';
import type { ListenAddress } from '../server.js';
import { parseListenAddress } from './listen-address.js';
import { parsed } from './zod-forms.js';

export const adminFields = {
  adminListen: z
    .preprocess(
      (v) => (v === false ? 'off' : v),
      z.string({ error: 'must be an address like 127.0.0.1:9443, or off' }).min(1, 'must not be empty'),
    )
    .pipe(z.string().transform(parsed((s): ListenAddress | false => (s === 'off' ? false : parseListenAddress(s)))))
    .describe('HOST:PORT of the admin console (web page and /api), or off. Default: off.')
    .meta({
      reload: 'restart',
      env: 'FTPSD_ADMIN_LISTEN',
      flag: '--admin-listen <host:port|off>',
      flagHelp: 'serve the admin console (HTTPS, /api and a web page) here (default: off)',
    }),
};

const adminUser = z.strictObject(
  {
    name: z
      .string({ error: 'must be a name' })
      .min(1, 'must not be empty')
      .max(64, 'must be at most 64 characters')
      .regex(/^[^\s:\p{Cc}]+$/u, 'must not contain spaces, colons or control characters'),
    password: z
      .string({ error: 'must be an argon2id hash (use: ftpsd hash-password)' })
      .refine(isArgon2Hash, 'must be an argon2id hash (use: ftpsd hash-password)'),
  },
  { error: 'must be a mapping {name, password}' },
);

const adminHost = z
  .string({ error: 'must be a host name or IP address' })
  .trim()
  .toLowerCase()
  .regex(/^(?:[a-z0-9_](?:[a-z0-9_-]{0,62})?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62})?)*\.?|[0-9a-f:.]+)$/, 'must be a host name or IP address (no port, no scheme)');

/** The config file's keys for the admin console. */
export const adminSchemaShape = {
  adminListen: adminFields.adminListen.optional(),
  admin: z
    .strictObject(
      {
        tls: z.boolean({ error: 'must be true or false' }).optional().describe('false: plain HTTP, allowed only on a loopback address. Default: true.'),
        users: z.array(adminUser, { error: 'must be a list of {name, password}' }).optional().describe('Admin accounts (argon2id hashes).'),
        hosts: z
          .array(adminHost, { error: 'must be a list of host names' })
          .optional()
          .describe(
            'More names the console answers to in the Host header (a proxy\'s name, a DNS alias), besides its listen address, the certificate\'s names and localhost/loopback; other names get 421 (DNS-rebinding defence). Default: none.',
          ),
      },
      { error: 'must be a mapping {tls, users, hosts}' },
    )
    .optional()
    .describe('The admin console: its accounts and whether it uses TLS.')
    .meta({ reload: 'live' }),
};

/** The admin settings the console reads (defaults applied). */
export interface AdminSettings {
  tls: boolean;
  users: { name: string; password: string }[];
  /** More names for the Host header (lower case). */
  hosts: string[];
}

export function adminSettings(
  admin: { tls?: boolean | undefined; users?: { name: string; password: string }[] | undefined; hosts?: string[] | undefined } | undefined,
): AdminSettings {
  return { tls: admin?.tls ?? true, users: admin?.users ?? [], hosts: admin?.hosts ?? [] };
}
