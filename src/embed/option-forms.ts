/**
 * The forms only a program can write (`{host, port}`, `{min, max}`, plain passwords), turned into the
 * config file's forms so that one schema checks both and its errors read the same.
 */
import { formatAddress } from '../config/listen-address.js';
import type { ConfigIssue } from '../config/errors.js';

/** Satisfies the config schema's argon2id check for a plain password; swapped back after validation. */
const PLAIN_PLACEHOLDER = '$argon2id$v=19$m=19456,t=2,p=1$cGxhaW4tcGFzc3dvcmQ$cGxhaW4tcGFzc3dvcmQtcGxhY2Vob2xkZXI';

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `{host, port}` to the `HOST:PORT` form the config schema parses (and checks). */
export function addressForm(v: unknown): unknown {
  if (isObject(v) && typeof v.host === 'string' && typeof v.port === 'number' && Object.keys(v).length === 2) {
    return formatAddress(v.host === '' ? '::' : v.host, v.port);
  }
  return v;
}

export function addressForms(v: unknown): unknown {
  return Array.isArray(v) ? v.map(addressForm) : addressForm(v);
}

export function rangeForm(v: unknown): unknown {
  if (isObject(v) && typeof v.min === 'number' && typeof v.max === 'number' && Object.keys(v).length === 2) return `${v.min}-${v.max}`;
  return v;
}

/** Users with their plain passwords swapped for a placeholder hash (remembered in `plain`). */
export function usersForSchema(users: unknown, plain: Map<number, string>, issues: ConfigIssue[]): unknown {
  if (!Array.isArray(users)) return users;
  return users.map((u: unknown, i) => {
    if (!isObject(u) || !('password' in u)) return u;
    const pw = u.password;
    if (isObject(pw) && Object.keys(pw).length === 1 && typeof pw.hash === 'string') return { ...u, password: pw.hash };
    const text = typeof pw === 'string' && !pw.startsWith('$argon2') ? pw : isObject(pw) && Object.keys(pw).length === 1 && typeof pw.plain === 'string' ? pw.plain : undefined;
    if (typeof pw === 'string' && text === undefined) return u; // a hash: the schema checks it
    if (text === undefined || text === '') {
      issues.push({
        field: `users[${i}].password`,
        message: text === '' ? 'must not be empty' : 'must be a password, an argon2id hash, {plain: PASSWORD} or {hash: HASH}',
      });
      return { ...u, password: PLAIN_PLACEHOLDER };
    }
    plain.set(i, text);
    return { ...u, password: PLAIN_PLACEHOLDER };
  });
}
