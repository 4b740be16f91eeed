/**
 * Content the soak can regenerate instead of keeping: a file is a list of segments, each (seed, length),
 * whose bytes come from the seeded PRNG. Shared by the soak and its victim client process.
 */
import { createHash } from 'node:crypto';
import { mulberry32 } from './rng.js';

export interface Segment {
  seed: number;
  length: number;
}

export function segmentBytes(seg: Segment): Buffer {
  const rng = mulberry32(seg.seed);
  const out = Buffer.alloc(seg.length);
  for (let i = 0; i < seg.length; i += 4) {
    const v = (rng() * 2 ** 32) >>> 0;
    out[i] = v & 255;
    if (i + 1 < seg.length) out[i + 1] = (v >>> 8) & 255;
    if (i + 2 < seg.length) out[i + 2] = (v >>> 16) & 255;
    if (i + 3 < seg.length) out[i + 3] = v >>> 24;
  }
  return out;
}

/** The bytes of a file made of `segments`. */
export function contentOf(segments: readonly Segment[]): Buffer {
  return Buffer.concat(segments.map(segmentBytes));
}

export function digestOf(segments: readonly Segment[]): string {
  const h = createHash('sha256');
  for (const s of segments) h.update(segmentBytes(s));
  return h.digest('hex');
}
