/**
 * Config schema of the logins besides config-file users: `ldap` (a directory: OpenLDAP, Active
 * Directory) and `authHook` (an HTTP service that decides). Kept apart from schema.ts, which spreads
 * these in. `ldap.url` also comes from `--ldap-url` and FTPSD_LDAP_URL (the rest of `ldap` from the file).
 */
import { z } from 'zod';
import { PERMISSIONS } from '../auth/permissions.js';
import { LDAP_DEFAULTS } from '../auth/ldap.js';
import { DEFAULT_AUTH_HOOK_TIMEOUT_MS } from '../auth/auth-hook.js';
import { parsed, text } from './zod-forms.js';

const LDAP_URL = 'an LDAP URL like ldaps://ldap.example.com or ldap://ldap.example.com:389';

/** `ldap://HOST[:PORT]` or `ldaps://HOST[:PORT]`, nothing after the host (base and filter are options). */
export function parseLdapUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`must be ${LDAP_URL}`);
  }
  if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') throw new Error(`must be ${LDAP_URL}`);
  if (url.username !== '' || url.password !== '') throw new Error('must not hold credentials: use ldap.bindDn and ldap.bindPasswordFile');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new Error('must be only ldap[s]://HOST[:PORT]: give the base in ldap.base and the filter in ldap.filter');
  }
  return `${url.protocol}//${url.host}`;
}

export const ldapUrl = text(LDAP_URL).transform(parsed(parseLdapUrl));

const permissionList = z.array(z.enum(PERMISSIONS, { error: `must be one of ${PERMISSIONS.join(', ')}` }), {
  error: 'must be a list of permissions',
});
const whole = (what: string) => z.int({ error: `must be a whole number of ${what}` }).min(0, 'must be >= 0');
const LOGIN_FORMS = ['password', 'certificate', 'certificate+password'] as const;

const ldapGroup = z.strictObject(
  {
    dn: text('a group DN').describe('The group (its members: groupOfNames `member`, or the user\'s `memberOf`).'),
    readOnly: z.boolean({ error: 'must be true or false' }).optional().describe('Download only. Default: false.'),
    permissions: permissionList.optional().describe('What members may do. Default: all, or [list, read] with readOnly.'),
    quotaBytes: whole('bytes').optional().describe('Most bytes a member\'s home may hold (the quota attribute wins). Default: none.'),
    login: z
      .enum(LOGIN_FORMS, { error: `must be one of ${LOGIN_FORMS.join(', ')}` })
      .optional()
      .describe('How members log in; the certificate forms need client certificates. Default: password.'),
  },
  { error: 'must be a mapping {dn, readOnly, permissions, quotaBytes, login}' },
);

const DEFAULT_LDAP = LDAP_DEFAULTS;

export const ldapSchema = z
  .strictObject(
    {
      url: ldapUrl.optional().describe('ldaps://HOST[:PORT], or ldap://HOST[:PORT] with startTls (also --ldap-url, FTPSD_LDAP_URL).'),
      startTls: z.boolean({ error: 'must be true or false' }).optional().describe('With ldap://: upgrade with StartTLS first. Default: false.'),
      ca: text('a file path').optional().describe("PEM CA bundle that signs the directory's certificate. Default: the system's."),
      base: text('a DN').optional().describe('Where users are searched (subtree). Required.'),
      filter: text('an LDAP filter')
        .refine((f) => f.includes('{name}'), 'must contain {name}')
        .optional()
        .describe(`The search; {name} is the login name, escaped (RFC 4515). Default: ${DEFAULT_LDAP.filter}.`),
      bindDn: text('a DN').optional().describe('Search as this DN. Default: anonymously.'),
      bindPasswordFile: text('a file path').optional().describe('File holding the password of bindDn.'),
      homeAttribute: text('an attribute name').optional().describe(`The home, relative to root. Default: ${DEFAULT_LDAP.homeAttribute}.`),
      quotaAttribute: text('an attribute name').optional().describe('Most bytes the home may hold. Default: none.'),
      groups: z.array(ldapGroup, { error: 'must be a list of {dn, readOnly, permissions, quotaBytes, login}' }).optional().describe('Group rules; the first group a user is in decides.'),
      requireGroup: text('a group DN').optional().describe('Only members of this group log in. Default: any user found.'),
      cacheMs: whole('milliseconds').optional().describe(`How long a successful login is remembered. Default: ${DEFAULT_LDAP.cacheMs}.`),
      timeoutMs: z.int({ error: 'must be a whole number of milliseconds' }).min(1, 'must be >= 1').optional().describe(`Each request to the directory. Default: ${DEFAULT_LDAP.timeoutMs}.`),
    },
    { error: 'must be a mapping of url, startTls, ca, base, filter, bindDn, bindPasswordFile, homeAttribute, quotaAttribute, groups, requireGroup, cacheMs, timeoutMs' },
  )
  .superRefine((l, ctx) => {
    if (l.bindPasswordFile !== undefined && l.bindDn === undefined) ctx.addIssue({ code: 'custom', path: ['bindPasswordFile'], message: 'needs ldap.bindDn' });
    if (l.bindDn !== undefined && l.bindPasswordFile === undefined) ctx.addIssue({ code: 'custom', path: ['bindDn'], message: 'needs ldap.bindPasswordFile' });
    if (l.startTls && l.url?.startsWith('ldaps:')) ctx.addIssue({ code: 'custom', path: ['startTls'], message: 'is for ldap:// URLs (ldaps:// is TLS from the start)' });
  })
  .describe('Logins against an LDAP directory (see docs/authentication.md).');

const hookUrl = text('an http(s) URL').transform(
  parsed((s) => {
    const url = new URL(s);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must be an http:// or https:// URL');
    return s;
  }),
);

export const authHookSchema = z
  .strictObject(
    {
      url: hookUrl.describe('Where each login is POSTed as JSON.'),
      timeoutMs: z.int({ error: 'must be a whole number of milliseconds' }).min(1, 'must be >= 1').optional().describe(`Default: ${DEFAULT_AUTH_HOOK_TIMEOUT_MS}.`),
    },
    { error: 'must be a mapping {url, timeoutMs}' },
  )
  .describe('Logins decided by an HTTP service (see docs/authentication.md).');

/** `ldap.url` as a flag and a variable (read by hand into `ldap`, as runAs is: sources.ts). */
export const authFields = {
  ldapUrl: ldapUrl.meta({
    env: 'FTPSD_LDAP_URL',
    flag: '--ldap-url <url>',
    flagHelp: "log users in against this LDAP directory, ldaps://HOST[:PORT] or ldap://HOST[:PORT] (the rest in the config file's ldap section)",
  }),
};

/** New logins use the new ones; createServer takes an `authenticator` instead (command only). */
export const authSchemaShape = {
  ldap: ldapSchema.optional().meta({ reload: 'live', command: true }),
  authHook: authHookSchema.optional().meta({ reload: 'live', command: true }),
};

export type LdapConfig = z.output<typeof ldapSchema>;
export type AuthHookConfig = z.output<typeof authHookSchema>;
