/**
 * Password checks: argon2id hashes (PHC strings) for configured users, and constant-time comparison for
 * passwords given on the command line (they live only in memory, and a slow hash would only cost CPU).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

type Argon2 = typeof import('@node-rs/argon2');
let argon2: Promise<Argon2> | undefined;
/** The native argon2 module, loaded on the first hash or verify (about 8 MiB a process need not hold idle). */
const loadArgon2 = (): Promise<Argon2> => (argon2 ??= import('@node-rs/argon2'));

/** An argon2id PHC string (the library's default algorithm and OWASP-level costs). */
export async function hashPassword(password: string): Promise<string> {
  return (await loadArgon2()).hash(password);
}

export function isArgon2Hash(value: string): boolean {
  return value.startsWith('$argon2id$') || value.startsWith('$argon2i$') || value.startsWith('$argon2d$');
}

export async function verifyHash(hashed: string, password: string): Promise<boolean> {
  try {
    return await (await loadArgon2()).verify(hashed, password);
  } catch {
    return false;
  }
}

/** Compares two secrets in constant time (both are hashed first, so lengths cannot leak). */
export function secretEquals(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
