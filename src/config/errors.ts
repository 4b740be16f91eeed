/**
 * Configuration errors: each issue names the field it is about, in the words the user wrote it
 * (`listen[0]` in the file, `--listen` on the command line, `FTPSD_LISTEN` in the environment).
 */
import type { z } from 'zod';

/** One problem in the options or the config file, with the field it is about. */
export interface ConfigIssue {
  /** `users[1].password`, `--listen`, `FTPSD_ROOT`; empty for the file as a whole. */
  field: string;
  message: string;
}

/**
 * Bad options or config file: `issues` lists every problem with its field (`listen[0]`, `users[1].password`),
 * `message` is the first one (and how many more), `lines()` one line per issue.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(
    readonly issues: ConfigIssue[],
    /** The config file the issues are in, if any. */
    readonly file?: string,
  ) {
    super(oneLine(issues, file));
  }

  static of(field: string, message: string, file?: string): ConfigError {
    return new ConfigError([{ field, message }], file);
  }

  /** Every issue, one per line: `listen[0]: port must be <= 65535`. */
  lines(): string[] {
    return this.issues.map(formatIssue);
  }
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.field ? `${issue.field}: ${issue.message}` : issue.message;
}

function oneLine(issues: ConfigIssue[], file?: string): string {
  const first = issues[0] ? formatIssue(issues[0]) : 'invalid configuration';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more${file ? `: ftpsd check-config ${file}` : ''})` : '';
  return `${file ? `${file}: ` : ''}${first}${more}`.replace(/[\r\n]+/g, ' ');
}

/** `['users', 1, 'password']` -> `users[1].password`. */
export function formatPath(path: readonly PropertyKey[], base = ''): string {
  let out = base;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/**
 * Zod issues as config issues; an unknown key is reported at its own path, with the known key it is
 * closest to (`suggest`, e.g. from key-suggestions.ts): `unknown option (did you mean readOnly?)`.
 */
export function zodIssues(error: z.ZodError, base = '', suggest?: (key: string) => string | undefined): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const meant = suggest?.(key);
        out.push({ field: formatPath([...issue.path, key], base), message: meant !== undefined ? `unknown option (did you mean ${meant}?)` : 'unknown option' });
      }
    } else {
      out.push({ field: formatPath(issue.path, base), message: issue.message });
    }
  }
  return out;
}
