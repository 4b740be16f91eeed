/**
 * Config schema of how a user logs in (`login`, `certificates` pins) and what they may do and store:
 * `permissions`, per-directory `rules` and `quota` on each user, and the server-wide `uploads` policy. Kept apart from schema.ts, which spreads these in.
 */
import { z } from 'zod';
import { PERMISSIONS, type Permission } from '../auth/permissions.js';
import { rulePath, type PermissionRule } from '../auth/rules.js';
import type { QuotaLimits } from '../storage/quota.js';
import { LOGIN_METHODS, type LoginMethod } from '../auth/authenticator.js';
import { oneOf } from '../policy-options.js';
import { text } from './zod-forms.js';
import type { UserBandwidth } from '../auth/authenticator.js';

const PERMISSION_LIST = PERMISSIONS.join(', ');

const permission = z.enum(PERMISSIONS, { error: `must be one of ${PERMISSION_LIST}` });
const permissionList = z.array(permission, { error: `must be a list of permissions (${PERMISSION_LIST})` });

const rule = z
  .strictObject(
    {
      path: z
        .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a path like /incoming') })
        .min(1, 'must not be empty')
        .refine((p) => {
          try {
            rulePath(p);
            return true;
          } catch {
            return false;
          }
        }, 'must be a path like /incoming')
        .describe('A path in the home as clients see it; the rule covers it and everything below.'),
      allow: permissionList.optional().describe('Permissions granted there.'),
      deny: permissionList.optional().describe('Permissions taken away there.'),
    },
    { error: 'must be a mapping with path, allow, deny' },
  )
  .superRefine((r, ctx) => {
    const both = (r.allow ?? []).filter((p) => r.deny?.includes(p));
    if (both.length > 0) ctx.addIssue({ code: 'custom', path: ['deny'], message: `${both.join(', ')} both allowed and denied` });
  });

function wholeNumber(what: string) {
  return z.int({ error: `must be a whole number of ${what}` }).min(0, 'must be >= 0');
}

/** The fields each user gets besides name, password, home, readOnly. */
export const userPolicyShape = {
  login: oneOf(LOGIN_METHODS)
    .optional()
    .describe(
      'How the user logs in: password; certificate (a verified TLS client certificate that names the user, no password: USER is answered 232; no password needed in the config); certificate+password (both). Default: password.',
    ),
  certificates: z
    .array(text('a SHA-256 fingerprint').regex(/^(?:[0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/, 'must be a SHA-256 fingerprint (64 hex digits, colons allowed)'), {
      error: 'must be a list of SHA-256 fingerprints',
    })
    .optional()
    .describe('Pins: only client certificates with one of these SHA-256 fingerprints satisfy a certificate login. Default: any verified certificate that names the user.'),
  permissions: permissionList
    .optional()
    .describe(`What the user may do: ${PERMISSION_LIST}. Default: all of them, or [list, read] with readOnly.`),
  rules: z
    .array(rule, { error: 'must be a list of rules {path, allow, deny}' })
    .optional()
    .describe('Per-directory overrides: for each permission the longest matching path that names it decides. Default: none.'),
  quota: z
    .strictObject(
      {
        bytes: wholeNumber('bytes').optional().describe('Most bytes the home may hold. Default: no limit.'),
        files: wholeNumber('files').optional().describe('Most files the home may hold. Default: no limit.'),
      },
      { error: 'must be a mapping {bytes: N, files: N}' },
    )
    .optional()
    .describe('Limits on the home; an upload that would exceed them fails with 552. Default: none.'),
  bandwidth: z
    .strictObject(
      {
        downloadBytesPerSecond: wholeNumber('bytes per second').optional().describe('All downloads of the user, shared by their sessions; 0: no limit.'),
        uploadBytesPerSecond: wholeNumber('bytes per second').optional().describe('All uploads of the user, shared by their sessions; 0: no limit.'),
      },
      { error: 'must be a mapping {downloadBytesPerSecond: N, uploadBytesPerSecond: N}' },
    )
    .optional()
    .describe('Bandwidth of the user (all their sessions together), besides the per-session and server limits. Default: none.'),
};

/** Checks across a user's fields (attach with superRefine). */
export function refineUserPolicy(
  u: { readOnly?: boolean | undefined; permissions?: readonly string[] | undefined; rules?: readonly { path: string }[] | undefined },
  ctx: z.RefinementCtx,
): void {
  if (u.readOnly !== undefined && u.permissions !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['permissions'], message: 'give either readOnly or permissions, not both' });
  }
  const seen = new Set<string>();
  u.rules?.forEach((r, i) => {
    let key: string;
    try {
      key = rulePath(r.path).join('/');
    } catch {
      return; // reported on the path itself
    }
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'path'], message: `a second rule for /${key}` });
    seen.add(key);
  });
}

export const UPLOAD_DEFAULTS = { atomic: true, partial: 'delete', requireCloseNotify: true } as const;

export const uploadsSchema = z
  .strictObject(
    {
      atomic: z
        .boolean({ error: 'must be true or false' })
        .optional()
        .describe(
          `true: a new file is written under a hidden temp name and renamed when complete; false: written in place. Replacing an existing file always goes through a temp file. Default: ${UPLOAD_DEFAULTS.atomic}.`,
        ),
      partial: z
        .enum(['delete', 'keep'], { error: 'must be one of delete, keep' })
        .optional()
        .describe(`What a failed upload of a new file leaves: delete it, or keep the bytes that arrived. Default: ${UPLOAD_DEFAULTS.partial}.`),
      requireCloseNotify: z
        .boolean({ error: 'must be true or false' })
        .optional()
        .describe(
          `true: a protected (PROT P) upload is complete only when the client ends TLS with close_notify, else it gets 426 and is aborted; false: a TCP FIN without close_notify completes it too (a reset never does). Default: ${UPLOAD_DEFAULTS.requireCloseNotify}.`,
        ),
    },
    { error: 'must be a mapping {atomic: BOOL, partial: delete|keep, requireCloseNotify: BOOL}' },
  )
  .describe('How uploads are written and ended.');

export { pickUserPolicy, type UserPolicy } from './user-policy-pick.js';
