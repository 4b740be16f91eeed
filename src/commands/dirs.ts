/**
 * Directory commands: CWD CDUP PWD MKD RMD and their X- aliases (RFC 775).
 *
 * CWD also carries the TVFS FEAT line (RFC 3659 section 6): every path argument is a virtual Unix-style
 * path, `/`-separated and rooted at the user's root, resolved by one normaliser (base/virtual-path.ts).
 */
import { FtpError } from '../base/errors.js';
import { quotePath, reply } from '../base/reply.js';
import { formatPath, parentOf } from '../base/virtual-path.js';
import { fileEvent } from '../session-observer.js';
import { defineCommand } from './define.js';
import { Code } from '../base/reply-codes.js';

export const CWD = defineCommand({
  name: 'CWD',
  aliases: ['XCWD'],
  arg: 'required',
  access: 'user',
  path: 'arg',
  feat: 'TVFS',
  help: 'CWD <sp> pathname',
  async handle(ctx, _arg, path) {
    // Where the user may not list the parent, a file and a missing name fail alike (no existence oracle).
    const hidden = path.length > 0 && !ctx.user.permissions.allows('list', parentOf(path));
    const failed = (err: unknown): never => {
      throw hidden ? new FtpError(Code.fileUnavailable, 'Failed to change directory.', { code: 'FTP_ERR_NOT_A_DIRECTORY' }) : err;
    };
    const st = await ctx.storage.stat(path).catch(failed);
    if (st.type !== 'dir') failed(new FtpError(Code.fileUnavailable, 'Not a directory.', { code: 'FTP_ERR_NOT_A_DIRECTORY' }));
    ctx.session.cwd = path;
    return reply(Code.fileActionOk, 'Directory successfully changed.');
  },
});

export const CDUP = defineCommand({
  name: 'CDUP',
  aliases: ['XCUP'],
  arg: 'none',
  access: 'user',
  help: 'CDUP (change to the parent directory)',
  async handle(ctx) {
    const path = parentOf(ctx.session.cwd);
    const st = await ctx.storage.stat(path);
    if (st.type !== 'dir') throw new FtpError(Code.fileUnavailable, 'Not a directory.');
    ctx.session.cwd = path;
    return reply(Code.fileActionOk, 'Directory successfully changed.');
  },
});

export const PWD = defineCommand({
  name: 'PWD',
  aliases: ['XPWD'],
  arg: 'none',
  access: 'user',
  help: 'PWD (print the working directory)',
  handle: (ctx) => reply(Code.pathCreated, `${quotePath(formatPath(ctx.session.cwd))} is the current directory.`),
});

export const MKD = defineCommand({
  name: 'MKD',
  aliases: ['XMKD'],
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'mkdir',
  help: 'MKD <sp> pathname',
  async handle(ctx, _arg, path) {
    if (path.length === 0) throw new FtpError(Code.fileUnavailable, 'File exists.');
    await ctx.storage.mkdir(path);
    fileEvent(ctx, 'mkdir', { path: formatPath(path) });
    return reply(Code.pathCreated, `${quotePath(formatPath(path))} created.`);
  },
});

export const RMD = defineCommand({
  name: 'RMD',
  aliases: ['XRMD'],
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'rmdir',
  help: 'RMD <sp> pathname',
  async handle(ctx, _arg, path) {
    if (path.length === 0) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    await ctx.storage.rmdir(path);
    fileEvent(ctx, 'delete', { path: formatPath(path), directory: true });
    return reply(Code.fileActionOk, 'Directory removed.');
  },
});

export const dirCommands = [CWD, CDUP, PWD, MKD, RMD];
