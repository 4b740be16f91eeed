/**
 * The small zod building blocks the config schemas share, so that every section words its errors alike.
 */
import { z } from 'zod';

/** A parser that throws plain-language errors, as a zod transform. */
export function parsed<T>(parse: (s: string) => T) {
  return (s: string, ctx: z.RefinementCtx): T => {
    try {
      return parse(s);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  };
}

/** A non-empty string; `what` completes "must be ..." when it is not a string. */
export function text(what: string) {
  return z
    .string({ error: (iss) => (iss.input === undefined ? 'is required' : `must be ${what}`) })
    .min(1, 'must not be empty');
}
