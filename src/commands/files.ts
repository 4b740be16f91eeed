/**
 * File commands: DELE RNFR RNTO SIZE MDTM MFMT (RFC 959, RFC 3659, draft-somers-ftp-mfxx).
 */
import { widens } from '../auth/permissions.js';
import { FtpError } from '../base/errors.js';
import { reply } from '../base/reply.js';
import { timeVal } from '../listing/mlsx-format.js';
import { formatPath } from '../base/virtual-path.js';
import { fileEvent } from '../session-observer.js';
import { defineCommand, storageHas } from './define.js';
import { Code } from '../base/reply-codes.js';

function notAFile(): FtpError {
  return new FtpError(Code.fileUnavailable, 'Not a regular file.', { code: 'FTP_ERR_IS_A_DIRECTORY' });
}

export const DELE = defineCommand({
  name: 'DELE',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'delete',
  help: 'DELE <sp> pathname',
  async handle(ctx, _arg, path) {
    await ctx.storage.remove(path);
    fileEvent(ctx, 'delete', { path: formatPath(path), directory: false });
    return reply(Code.fileActionOk, 'File deleted.');
  },
});

export const RNFR = defineCommand({
  name: 'RNFR',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'rename',
  help: 'RNFR <sp> pathname',
  async handle(ctx, _arg, path) {
    if (path.length === 0) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    // A rename takes the entry away from here: it needs `delete` (and `rmdir` for a directory). `delete`
    // is checked before the entry is looked at, so where it is denied the reply is the same whether the
    // name exists or not.
    const perms = ctx.user.permissions;
    if (!perms.allows('delete', path)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    const st = await ctx.storage.stat(path);
    if (st.type === 'dir' && !perms.allows('rmdir', path)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    ctx.session.renameFrom = path;
    return reply(Code.pendingFurtherInfo, 'Ready for RNTO.');
  },
});

export const RNTO = defineCommand({
  name: 'RNTO',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'rename',
  help: 'RNTO <sp> pathname',
  async handle(ctx, _arg, path) {
    const from = ctx.session.renameFrom;
    ctx.session.renameFrom = undefined;
    if (!from) return reply(Code.badSequence, 'RNFR required first.');
    if (path.length === 0) throw new FtpError(Code.nameNotAllowed, 'File name not allowed.');
    // The new name may not give the user rights the old one did not (as SITE SYMLINK), unless they could
    // copy the entry there anyway: they may read and list it where it is (and delete it, checked at RNFR).
    const perms = ctx.user.permissions;
    if (widens(perms, from, path) && !(perms.allows('read', from) && perms.allows('list', from))) {
      throw new FtpError(Code.fileUnavailable, 'Permission denied: the new name would allow more than the old one.');
    }
    // Renaming onto an existing entry replaces it: that needs the right to remove it too.
    const existing = await ctx.storage.stat(path).catch(() => undefined);
    if (existing && !perms.allows(existing.type === 'dir' ? 'rmdir' : 'delete', path)) {
      throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    }
    await ctx.storage.rename(from, path);
    fileEvent(ctx, 'rename', { from: formatPath(from), to: formatPath(path) });
    return reply(Code.fileActionOk, 'Rename successful.');
  },
});

export const SIZE = defineCommand({
  name: 'SIZE',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'list',
  feat: 'SIZE',
  help: 'SIZE <sp> pathname',
  async handle(ctx, _arg, path) {
    // RFC 3659 4: in ASCII mode the size would have to count converted line ends.
    if (ctx.session.type === 'A') return reply(Code.fileUnavailable, 'SIZE not allowed in ASCII mode: send TYPE I.');
    const st = await ctx.storage.stat(path);
    if (st.type !== 'file') throw notAFile();
    return reply(Code.fileStatus, String(st.size));
  },
});

export const MDTM = defineCommand({
  name: 'MDTM',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'list',
  feat: 'MDTM',
  help: 'MDTM <sp> pathname',
  async handle(ctx, _arg, path) {
    const st = await ctx.storage.stat(path);
    return reply(Code.fileStatus, timeVal(st.mtime));
  },
});

/** YYYYMMDDHHMMSS[.sss] in UTC, validated field by field. */
export function parseTimeVal(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 60) {
    return undefined;
  }
  return date;
}

export const MFMT = defineCommand({
  name: 'MFMT',
  arg: 'required',
  access: 'user',
  feat: 'MFMT',
  help: 'MFMT <sp> YYYYMMDDHHMMSS <sp> pathname',
  available: storageHas('setTime'),
  async handle(ctx, arg) {
    const space = arg.indexOf(' ');
    const time = space > 0 ? parseTimeVal(arg.slice(0, space)) : undefined;
    if (!time || space === arg.length - 1) return reply(Code.badArguments, 'Syntax: MFMT YYYYMMDDHHMMSS pathname');
    const path = ctx.resolve(arg.slice(space + 1));
    if (!ctx.user.permissions.allows('settime', path)) return reply(Code.fileUnavailable, 'Permission denied.');
    await ctx.storage.setTime!(path, time);
    return reply(Code.fileStatus, `Modify=${timeVal(time)}; ${formatPath(path)}`);
  },
});

export const fileCommands = [DELE, RNFR, RNTO, SIZE, MDTM, MFMT];
