/** Helpers for split-packet fuzzing: cut a buffer at random offsets. */
import fc from 'fast-check';

/** Random cut points; `chunked` maps each into the buffer's length. */
export function splitPoints(maxCuts = 12): fc.Arbitrary<number[]> {
  return fc.array(fc.noBias(fc.nat()), { maxLength: maxCuts });
}

/** Cuts `buf` at the given points (modulo its length + 1); repeated cuts give empty chunks. */
export function chunked(buf: Buffer, cuts: readonly number[]): Buffer[] {
  const offsets = cuts.map((c) => c % (buf.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const o of offsets) {
    out.push(buf.subarray(prev, o));
    prev = o;
  }
  out.push(buf.subarray(prev));
  return out;
}
