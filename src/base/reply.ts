/**
 * FTP replies: a code and one or more lines of text, formatted so that no text (a file name, an error
 * message) can ever start a new reply line: CR, LF and other control characters become spaces, and
 * continuation lines that could be read as a final line get a leading space.
 */

/** An FTP reply: a code and its text lines (one line, or a multi-line reply). */
export interface Reply {
  readonly code: number;
  /** One line, or several for a multi-line reply (RFC 959 4.2). */
  readonly lines: readonly string[];
}

/**
 * A final reply the handler wrote itself (a transfer's 226/426 through `sendData`/`receiveData`, AUTH's
 * 234 before the TLS handshake, PASS's 421): its code, returned to the dispatcher, which reports it
 * (the `command` event, the log line, the trace) as it does a returned Reply's.
 */
export interface Sent {
  readonly sent: number;
}

/** Marks a final reply as already written: `return sent(234)`. */
export function sent(code: number): Sent {
  return { sent: code };
}

/** Makes a reply: `reply(200, 'OK.')`, or several lines for a multi-line reply (`211-...`, `211 End`). */
export function reply(code: number, ...lines: string[]): Reply {
  return { code, lines: lines.length > 0 ? lines : [''] };
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators (NEL U+0085, U+2028, U+2029:
// clients that split text with a Unicode-aware "lines" function would break a reply at them); other code
// points are written as UTF-8 (RFC 2640).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Makes one line of reply text safe: no CR, LF, NUL, other control characters or line separators. */
export function safeText(text: string): string {
  return text.replace(UNSAFE, ' ');
}

/** RFC 959 path quoting for 257 replies: the path in double quotes, embedded quotes doubled. */
export function quotePath(path: string): string {
  return `"${safeText(path).replace(/"/g, '""')}"`;
}

export function formatReply(r: Reply): string {
  const { code, lines } = r;
  if (lines.length === 1) return `${code} ${safeText(lines[0]!)}\r\n`;
  let out = `${code}-${safeText(lines[0]!)}\r\n`;
  for (let i = 1; i < lines.length - 1; i++) {
    const line = safeText(lines[i]!);
    // A continuation line must not look like "ddd " or "ddd-" at its start (RFC 959 4.2).
    out += (/^\d{3}[ -]/.test(line) ? ` ${line}` : line) + '\r\n';
  }
  out += `${code} ${safeText(lines[lines.length - 1]!)}\r\n`;
  return out;
}
