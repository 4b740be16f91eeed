/**
 * Password checks: argon2id hashes (PHC strings) for configured users, and constant-time comparison for
 * passwords given on the command line (they live only in memory, and a slow hash would only cost CPU).
 */
import { hash, verify } from '@node-rs/argon2';
import { createHash, timingSafeEqual } from 'node:crypto';

/** An argon2id PHC string (the library's default algorithm and OWASP-level costs). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export function isArgon2Hash(value: string): boolean {
  return value.startsWith('$argon2id$') || value.startsWith('$argon2i$') || value.startsWith('$argon2d$');
}

export async function verifyHash(hashed: string, password: string): Promise<boolean> {
  try {
    return await verify(hashed, password);
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
