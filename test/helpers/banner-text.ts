/**
 * The banner as text, whatever the log format: off a terminal ftpsd logs JSON lines and its banner is
 * one JSON line (`msg: "ready"`, the text lines under `banner`); this puts those text lines in its place,
 * so the tests read `listening: ...`, `try: ...` either way. Other lines are left as they are.
 */
export function bannerText(stdout: string): string {
  return stdout
    .split('\n')
    .map((line) => {
      if (!line.startsWith('{') || !line.includes('"banner"')) return line;
      try {
        const obj = JSON.parse(line) as { msg?: unknown; banner?: unknown };
        if (obj.msg === 'ready' && Array.isArray(obj.banner)) return obj.banner.join('\n');
      } catch {
        // a line still being written
      }
      return line;
    })
    .join('\n');
}
