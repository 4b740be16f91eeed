/**
 * HASH (draft-bryan-ftpext-hash): the checksum of a file, or of the byte range set by REST or RANG,
 * with the algorithm chosen by OPTS HASH. HASH (and its FEAT line) exists only when the user's storage
 * has the `checksum` capability; LocalStorage and MemoryStorage compute it by reading the file
 * (storage/checksum.ts), other backends may know it already.
 */
import { FtpError } from '../base/errors.js';
import { reply } from '../base/reply.js';
import { HASH_ALGORITHMS } from '../storage/checksum.js';
import { formatPath } from '../base/virtual-path.js';
import { defineCommand, storageHas } from './define.js';
import { takeRange } from './range.js';
import { Code } from '../base/reply-codes.js';

export { HASH_ALGORITHMS };

/** Whether HASH exists for this session: before login it is announced, after login the storage decides. */
export const hashAvailable = storageHas('checksum');

export const HASH = defineCommand({
  name: 'HASH',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'read',
  feat: (ctx) => 'HASH ' + HASH_ALGORITHMS.map((a) => (a === ctx.session.hashAlgorithm ? `${a}*` : a)).join(';'),
  help: 'HASH <sp> pathname',
  available: hashAvailable,
  async handle(ctx, _arg, path) {
    const range = takeRange(ctx);
    const st = await ctx.storage.stat(path);
    if (st.type !== 'file') throw new FtpError(Code.fileUnavailable, 'Not a regular file.');
    const start = Math.min(range.start, st.size);
    const end = Math.min(range.end ?? st.size, st.size);
    const algorithm = ctx.session.hashAlgorithm;
    const digest = await ctx.storage.checksum!(path, algorithm, start, end);
    return reply(Code.fileStatus, `${algorithm} ${start}-${end} ${digest} ${formatPath(path)}`);
  },
});
