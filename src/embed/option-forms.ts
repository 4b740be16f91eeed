/**
 * createServer's schema: the config file's schema extended with the forms only a program can write
 * (`{host, port}`, `{min, max}`, plain passwords and `{plain}`/`{hash}`). Each extended option accepts
 * its file forms as they are, so one schema checks both and an error reads the same.
 */
import { z } from 'zod';
import { formatAddress } from '../config/listen-address.js';
import { opsFields } from '../config/ops-schema.js';
import { configSchemaWith, fields, HASH_HINT, passwordHash, userSchema, usersSchema } from '../config/schema.js';
import { serviceFields } from '../config/service-schema.js';
import type { Password } from '../config/sources.js';

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{host, port}` as the `HOST:PORT` form the address schema parses (and checks). */
function addressForm(v: unknown): unknown {
  if (isObject(v) && typeof v.host === 'string' && typeof v.port === 'number' && Object.keys(v).length === 2) {
    return formatAddress(v.host === '' ? '::' : v.host, v.port);
  }
  return v;
}

const addressForms = (v: unknown): unknown => (Array.isArray(v) ? v.map(addressForm) : addressForm(v));

function rangeForm(v: unknown): unknown {
  if (isObject(v) && typeof v.min === 'number' && typeof v.max === 'number' && Object.keys(v).length === 2) return `${v.min}-${v.max}`;
  return v;
}

const onlyKey = (v: unknown, key: string): v is Record<string, string> => isObject(v) && Object.keys(v).length === 1 && typeof v[key] === 'string';

/** A password: an argon2id hash (checked as in the file), plain text kept in memory, `{hash}` or `{plain}`. */
const password = z.unknown().transform((pw, ctx): Password => {
  const hash = onlyKey(pw, 'hash') ? pw.hash : typeof pw === 'string' && pw.startsWith('$argon2') ? pw : undefined;
  if (hash !== undefined) {
    const checked = passwordHash.safeParse(hash);
    if (!checked.success) ctx.addIssue({ code: 'custom', message: checked.error.issues[0]?.message ?? HASH_HINT });
    return { hash };
  }
  const plain = typeof pw === 'string' ? pw : onlyKey(pw, 'plain') ? pw.plain : undefined;
  if (pw === undefined) ctx.addIssue({ code: 'custom', message: 'is required' });
  else if (plain === '') ctx.addIssue({ code: 'custom', message: 'must not be empty' });
  else if (plain === undefined) ctx.addIssue({ code: 'custom', message: 'must be a password, an argon2id hash, {plain: PASSWORD} or {hash: HASH}' });
  return { plain: plain ?? '' };
});

export const programSchema = configSchemaWith({
  listen: z.preprocess(addressForms, fields.listen).optional(),
  implicitListen: z.preprocess(addressForms, fields.implicitListen).optional(),
  metricsListen: z.preprocess(addressForm, opsFields.metricsListen).optional(),
  pasvPorts: z.preprocess(rangeForm, fields.pasvPorts).optional(),
  pasvAdvertisedPorts: z.preprocess(rangeForm, serviceFields.pasvAdvertisedPorts).optional(),
  users: usersSchema(userSchema(password)).optional(),
});

export type ProgramConfig = z.output<typeof programSchema>;
