/**
 * File transfer commands: RETR STOR STOU APPE ABOR (RFC 959, RFC 1123).
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FtpError, StorageError } from '../base/errors.js';
import { reply, type Sent } from '../base/reply.js';
import { baseName, type VirtualPath } from '../base/virtual-path.js';
import { defineCommand } from './define.js';
import type { CommandContext } from './context.js';
import { limitBytes, takeRange } from './range.js';
import { Code } from '../base/reply-codes.js';
import { readShortcut } from '../storage/read-shortcut.js';
import type { OpenedFile, Storage } from '../storage/storage.js';

function modeName(ctx: CommandContext): string {
  return ctx.session.type === 'I' ? 'BINARY' : 'ASCII';
}

/**
 * The first `n` bytes of `stream`. pipe() passes neither errors nor destroy() on, so the file is closed
 * here when the range is sent, when the transfer ends early (ABOR, lost connection), and on errors.
 */
function limited(stream: Readable, n: number): Readable {
  const out = limitBytes(n);
  stream.once('error', (err) => out.destroy(err));
  out.once('end', () => stream.destroy());
  out.once('close', () => stream.destroy());
  return stream.pipe(out);
}

/** RFC 3659 5.4: a restart position the file cannot be repositioned to. */
function badRestart(): FtpError {
  return new FtpError(Code.badRestartPosition, 'Invalid restart position: past the end of the file.');
}

/** RETR's 550 for a directory (or anything else that is not a file). */
function notAFile(): FtpError {
  return new FtpError(Code.fileUnavailable, 'Not a regular file.');
}

/**
 * Opens `path` for a download from `start`: its stream and size. Through the storage's `openRead` when it
 * has one that may be used (one lookup: LocalStorage resolves and opens the file once and takes the size
 * from the open descriptor; see read-shortcut.ts), else `stat` then `read`; the replies are the same.
 */
async function openDownload(storage: Storage, path: VirtualPath, start: number): Promise<{ stream: Readable; size: number }> {
  const openRead = readShortcut(storage);
  if (!openRead) {
    const st = await storage.stat(path);
    if (st.type !== 'file') throw notAFile();
    if (start > st.size) throw badRestart();
    return { stream: await storage.read(path, { start }), size: st.size };
  }
  let opened: OpenedFile;
  try {
    opened = await openRead(path, { start });
  } catch (err) {
    if (err instanceof StorageError ? err.errno === 'EISDIR' : (err as { code?: unknown } | null)?.code === 'EISDIR') throw notAFile();
    throw err;
  }
  const { stat, stream } = opened;
  if (stat.type !== 'file' || start > stat.size) {
    stream.destroy();
    throw stat.type !== 'file' ? notAFile() : badRestart();
  }
  return { stream, size: stat.size };
}

export const RETR = defineCommand({
  name: 'RETR',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'read',
  transfer: true,
  help: 'RETR <sp> pathname',
  async handle(ctx, _arg, path) {
    const { start, end } = takeRange(ctx);
    return ctx.sendData(async () => {
      const { stream, size } = await openDownload(ctx.storage, path, start);
      return { stream: end === undefined ? stream : limited(stream, end - start), path, size: (end ?? size) - start };
    }, `Opening ${modeName(ctx)} mode data connection for ${baseName(path)}.`);
  },
});

async function store(ctx: CommandContext, path: VirtualPath, mode: 'replace' | 'append'): Promise<Sent> {
  const offset = ctx.session.restOffset;
  ctx.session.restOffset = 0;
  ctx.session.range = undefined;
  const writeMode = mode === 'append' ? 'append' : offset > 0 ? 'offset' : 'replace';
  // REST + STOR writes into a file that is there: at its end that is appending, so it needs `append`
  // (checked before the file is looked at: the same reply whether it exists or not).
  if (writeMode === 'offset' && !ctx.user.permissions.allows('append', path)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
  return ctx.receiveData(
    async () => {
      const existing = await ctx.storage.stat(path).catch(() => undefined);
      if (writeMode === 'offset' && offset > (existing?.size ?? 0)) throw badRestart();
      // Overwriting destroys the old content, so it needs `delete` as well (a drop box with write but
      // no delete keeps everyone's uploads). APPE, and REST at the end of the file, only add (`append`).
      const overwrites = existing?.type === 'file' && (writeMode === 'replace' || (writeMode === 'offset' && offset < existing.size));
      if (overwrites && !ctx.user.permissions.allows('delete', path)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
      return ctx.storage.write(path, { mode: writeMode, offset });
    },
    `Ok to send data for ${baseName(path)}.`,
    path,
  );
}

export const STOR = defineCommand({
  name: 'STOR',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'write',
  transfer: true,
  help: 'STOR <sp> pathname',
  handle: (ctx, _arg, path) => store(ctx, path, 'replace'),
});

export const APPE = defineCommand({
  name: 'APPE',
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'append',
  transfer: true,
  help: 'APPE <sp> pathname',
  handle: (ctx, _arg, path) => store(ctx, path, 'append'),
});

export const STOU = defineCommand({
  name: 'STOU',
  arg: 'optional',
  access: 'user',
  perm: 'write',
  path: 'optional-arg',
  transfer: true,
  help: 'STOU [<sp> name-prefix]',
  async handle(ctx, arg, given) {
    const dir = arg === '' ? ctx.session.cwd : given.slice(0, -1);
    const prefix = arg === '' ? 'ftpsd' : baseName(given);
    // The name as given only where the user may list the directory: elsewhere a suffix always, so the
    // reply does not tell whether the name was taken.
    const asGiven = arg !== '' && ctx.user.permissions.allows('list', dir);
    let path: VirtualPath | undefined;
    for (let i = 0; i < 16 && !path; i++) {
      const candidate = [...dir, i === 0 && asGiven ? prefix : `${prefix}.${randomBytes(4).toString('hex')}`];
      const exists = await ctx.storage.stat(candidate).then(
        () => true,
        () => false,
      );
      if (!exists) path = candidate;
    }
    if (!path) return reply(Code.fileBusy, 'Could not find a unique file name.');
    ctx.session.restOffset = 0;
    const name = baseName(path);
    return ctx.receiveData(
      () => ctx.storage.write(path, { mode: 'replace' }),
      `FILE: ${name}`,
      path,
    );
  },
});

export const ABOR = defineCommand({
  name: 'ABOR',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  duringTransfer: true,
  help: 'ABOR (abort the running transfer)',
  async handle(ctx) {
    const aborted = await ctx.abortTransfer();
    return aborted ? reply(Code.closingData, 'Abort successful.') : reply(Code.dataOpenNoTransfer, 'No transfer to abort.');
  },
});

export const transferCommands = [RETR, STOR, APPE, STOU, ABOR];
