/**
 * Wildcards in the last path segment of LIST and NLST (`NLST *.csv`, `mget`, `ncftpget host . "/dir/*"`):
 * `*` (any run of characters), `?` (one character) and `[...]` (a class: ranges `a-z`, negation `[!...]`
 * or `[^...]`; `]` first is literal; an unterminated `[` is a literal `[`). As in a shell, a wildcard does
 * not match a leading `.`: `.*` does.
 *
 * The matcher works on code points with the classic star-backtracking loop: time proportional to
 * pattern x name at worst, never exponential (no regular expression is built from client input).
 */

type Token = { kind: 'star' } | { kind: 'one' } | { kind: 'char'; c: string } | { kind: 'class'; negate: boolean; items: [string, string][] };

/** Most matches one LIST or NLST collects; beyond it the command is refused (550) rather than cut short. */
export const MAX_GLOB_MATCHES = 10_000;

/** Whether a path segment has wildcard characters. */
export function hasWildcard(segment: string): boolean {
  return /[*?[]/.test(segment);
}

function parse(pattern: string): Token[] {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (tokens.at(-1)?.kind !== 'star') tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'one' });
    } else if (c === '[') {
      const parsed = parseClass(chars, i + 1);
      if (parsed) {
        tokens.push(parsed.token);
        i = parsed.end;
      } else {
        tokens.push({ kind: 'char', c });
      }
    } else {
      tokens.push({ kind: 'char', c });
    }
  }
  return tokens;
}

/** A class starting after `[` at `start`; undefined when there is no closing `]`. */
function parseClass(chars: string[], start: number): { token: Token; end: number } | undefined {
  let i = start;
  const negate = chars[i] === '!' || chars[i] === '^';
  if (negate) i++;
  const items: [string, string][] = [];
  for (let first = true; i < chars.length; first = false) {
    const c = chars[i]!;
    if (c === ']' && !first) return { token: { kind: 'class', negate, items }, end: i };
    if (chars[i + 1] === '-' && chars[i + 2] !== undefined && chars[i + 2] !== ']') {
      items.push([c, chars[i + 2]!]);
      i += 3;
    } else {
      items.push([c, c]);
      i++;
    }
  }
  return undefined;
}

function matchesOne(token: Token, c: string): boolean {
  if (token.kind === 'one') return true;
  if (token.kind === 'char') return token.c === c;
  if (token.kind === 'class') return token.items.some(([lo, hi]) => c >= lo && c <= hi) !== token.negate;
  return false;
}

/** A matcher for one name (no `/` in it) against `pattern`. */
export function compileGlob(pattern: string): (name: string) => boolean {
  const tokens = parse(pattern);
  const dotExplicit = tokens[0]?.kind === 'char' && tokens[0].c === '.';
  return (name) => {
    if (name.startsWith('.') && !dotExplicit) return false;
    const chars = Array.from(name);
    let t = 0;
    let n = 0;
    let starT = -1;
    let starN = 0;
    while (n < chars.length) {
      const token = tokens[t];
      if (token && token.kind !== 'star' && matchesOne(token, chars[n]!)) {
        t++;
        n++;
      } else if (token?.kind === 'star') {
        starT = t++;
        starN = n;
      } else if (starT >= 0) {
        t = starT + 1;
        n = ++starN;
      } else {
        return false;
      }
    }
    while (tokens[t]?.kind === 'star') t++;
    return t === tokens.length;
  };
}
