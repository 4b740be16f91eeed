/**
 * Byte ranges for RETR and HASH: REST sets the start (RFC 3659 5), RANG sets start and end
 * (draft-bryan-ftp-range). Both are consumed by the next command that uses them.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { reply } from '../base/reply.js';
import { defineCommand } from './define.js';
import type { CommandContext } from './context.js';
import { Code } from '../base/reply-codes.js';

/** The range for the next transfer or HASH: `end` exclusive, undefined for "to the end". */
export function takeRange(ctx: CommandContext): { start: number; end: number | undefined } {
  const { session } = ctx;
  const range = session.range;
  const start = range ? range.start : session.restOffset;
  session.restOffset = 0;
  session.range = undefined;
  return { start, end: range ? range.end + 1 : undefined };
}

/** Passes the first `n` bytes and then ends. */
export function limitBytes(n: number): Transform {
  let left = n;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (left <= 0) return cb();
      const part = chunk.length <= left ? chunk : chunk.subarray(0, left);
      left -= part.length;
      this.push(part);
      if (left <= 0) this.push(null);
      cb();
    },
  });
}

export const RANG = defineCommand({
  name: 'RANG',
  arg: 'required',
  access: 'user',
  feat: 'RANG STREAM',
  help: 'RANG <sp> start <sp> end',
  handle(ctx, arg) {
    const m = /^\s*(\d{1,15})\s+(\d{1,15})\s*$/.exec(arg);
    if (!m) return reply(Code.badArguments, 'Syntax: RANG start end');
    const start = Number(m[1]);
    const end = Number(m[2]);
    if (start === 1 && end === 0) {
      ctx.session.range = undefined;
      return reply(Code.pendingFurtherInfo, 'Byte range reset.');
    }
    if (end < start) return reply(Code.badArguments, 'RANG end must not be before start.');
    ctx.session.range = { start, end };
    ctx.session.restOffset = 0;
    return reply(Code.pendingFurtherInfo, `Restarting at ${start}. End byte range at ${end}.`);
  },
});
