/**
 * The short phrase a one-line start-up error gives for a system error (`address already in use`,
 * `no such file`), or the error's own message for codes without one. `wording` replaces a phrase where
 * a place says it more precisely (`no such directory`, a hint about privileged ports).
 */
const PHRASES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied',
  ENOENT: 'no such file',
  EISDIR: 'is a directory',
};

export function errnoText(err: unknown, wording: Readonly<Record<string, string>> = {}): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code !== undefined ? (wording[code] ?? PHRASES[code]) : undefined) ?? (err as Error).message;
}
