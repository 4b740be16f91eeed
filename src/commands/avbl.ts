/**
 * AVBL (draft-peterson-streamlined-ftp-command-extensions): the bytes a user may still upload into a
 * directory (the current one by default), as `213 <bytes>`. It exists, and FEAT lists `AVBL`, only when
 * the user's storage has the `freeSpace` capability.
 */
import { FtpError } from '../base/errors.js';
import { reply } from '../base/reply.js';
import { defineCommand, storageHas } from './define.js';
import { Code } from '../base/reply-codes.js';

export const AVBL = defineCommand({
  name: 'AVBL',
  arg: 'optional',
  access: 'user',
  path: 'optional-arg',
  perm: 'list',
  feat: 'AVBL',
  help: 'AVBL [<sp> pathname]',
  available: storageHas('freeSpace'),
  async handle(ctx, _arg, path) {
    const st = await ctx.storage.stat(path);
    if (st.type !== 'dir') throw new FtpError(Code.fileUnavailable, 'Not a directory.', { code: 'FTP_ERR_NOT_A_DIRECTORY' });
    const free = await ctx.storage.freeSpace!(path);
    // No figure (a quota without a byte limit over a backend that cannot tell): say so rather than guess.
    if (!Number.isFinite(free)) return reply(Code.fileUnavailable, 'Available space unknown.');
    return reply(Code.fileStatus, String(Math.max(0, Math.floor(free))));
  },
});
