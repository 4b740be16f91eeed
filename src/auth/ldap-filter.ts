/**
 * LDAP search filters made from a login name: the name is escaped per RFC 4515 §3 (`*`, `(`, `)`, `\`
 * and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`), so no name can widen or reshape the search.
 */

const SPECIAL = /[*()\\\0]/g;

/** Escapes a value for use inside an LDAP filter (RFC 4515 §3). */
export function escapeFilterValue(value: string): string {
  return value.replace(SPECIAL, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

/** The default `ldap.filter`. */
export const DEFAULT_FILTER = '(uid={name})';

/** `template` with every `{name}` replaced by the escaped `name`. */
export function userFilter(template: string, name: string): string {
  const escaped = escapeFilterValue(name);
  return template.replaceAll('{name}', () => escaped);
}
