/**
 * "did you mean" for unknown config keys: every key a zod schema knows (walked once, objects at any
 * depth), and the closest one to a key the user wrote (same letters in another case, or at most two
 * edits away).
 */
import type { z } from 'zod';

interface Def {
  type?: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  out?: z.ZodType;
  valueType?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
}

/** Every object key anywhere in `schema`. */
export function schemaKeys(schema: z.ZodType): Set<string> {
  const keys = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (s: z.ZodType | undefined): void => {
    if (!s || seen.has(s)) return;
    seen.add(s);
    const def = (s as unknown as { _zod?: { def?: Def } })._zod?.def;
    if (!def) return;
    if (def.shape) {
      for (const [key, value] of Object.entries(def.shape)) {
        keys.add(key);
        walk(value);
      }
    }
    for (const next of [def.innerType, def.element, def.in, def.out, def.valueType, def.left, def.right, ...(def.options ?? [])]) walk(next);
  };
  walk(schema);
  return keys;
}

/** The known key `key` was probably meant to be, if one is close enough. */
export function closestKey(key: string, known: Iterable<string>): string | undefined {
  const lower = key.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    if (candidate === key) continue;
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (distance > (key.length > 4 ? 2 : 1)) continue;
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best?.key;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
