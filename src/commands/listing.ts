/**
 * Listings: LIST NLST MLSD MLST STAT (RFC 959, RFC 3659). Directory listings are generated while they
 * are sent, in batches, so a directory of any size streams in bounded memory.
 */
import { Readable } from 'node:stream';
import { markNetworkText } from '../data/ascii.js';
import { lsLine } from '../listing/ls-format.js';
import { MLST_FACTS, mlsdLineFor, mlsxLine } from '../listing/mlsx-format.js';
import { safeName } from '../listing/safe-name.js';
import { compileGlob, hasWildcard, MAX_GLOB_MATCHES } from '../listing/glob.js';
import { errorToReply, FtpError } from '../base/errors.js';
import { reply, type Reply, type Sent } from '../base/reply.js';
import type { FileStat } from '../storage/storage.js';
import { formatPath, type VirtualPath } from '../base/virtual-path.js';
import { defineCommand } from './define.js';
import type { CommandContext, SessionContext } from './context.js';
import type { LoggedInUser } from '../session.js';
import { Code, NOT_LOGGED_IN } from '../base/reply-codes.js';

const BATCH_BYTES = 64 * 1024;

/** `LIST -la dir` -> options `la`, path `dir`. Leading option words are dropped (as ls would read them). */
export function splitListArg(arg: string): { options: string; path: string } {
  let rest = arg;
  let options = '';
  for (;;) {
    const m = /^-([A-Za-z0-9]+)(?:\s+|$)/.exec(rest);
    if (!m) break;
    options += m[1];
    rest = rest.slice(m[0].length);
  }
  return { options, path: rest };
}

/**
 * A stream of CRLF-terminated lines, built in batches from the entries of `dir` (or the one file). Names
 * are made safe (no CR or LF), so it is sent as it is under TYPE A too.
 */
function listingStream(ctx: CommandContext, target: VirtualPath, st: FileStat, line: (st: FileStat) => string): Readable {
  const storage = ctx.storage;
  return markNetworkText(Readable.from(
    (async function* () {
      if (st.type !== 'dir') {
        yield Buffer.from(line(st) + '\r\n');
        return;
      }
      let batch = '';
      for await (const entry of storage.list(target)) {
        batch += line(entry) + '\r\n';
        if (batch.length >= BATCH_BYTES) {
          yield Buffer.from(batch);
          batch = '';
        }
      }
      if (batch) yield Buffer.from(batch);
    })(),
    { objectMode: false },
  ));
}

async function listCommand(ctx: CommandContext, arg: string, line: (st: FileStat, prefix: string) => string, dirsOnly: boolean): Promise<Sent> {
  const { path: pathArg } = splitListArg(arg);
  const target = pathArg === '' ? ctx.session.cwd : ctx.resolve(pathArg);
  const glob = pathArg === '' ? undefined : globOf(ctx, pathArg);
  if (!glob && !ctx.user.permissions.allows('list', target)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
  const prefix = pathArg === '' ? '' : pathArg.replace(/\/+$/, '') + '/';
  return ctx.sendData(async () => {
    // A name with wildcard characters that exists as it is (a file named `a*b`) is listed as it is.
    const st = glob ? await statIfExists(ctx, target) : await ctx.storage.stat(target);
    if (!st) return { stream: await globStream(ctx, glob!, line) };
    if (glob && !ctx.user.permissions.allows('list', target)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    if (dirsOnly && st.type !== 'dir') throw new FtpError(Code.badArguments, 'Not a directory.');
    const fileLine = (s: FileStat) => line(s, st.type === 'dir' ? prefix : '');
    return { stream: listingStream(ctx, target, st, fileLine) };
  }, 'Here comes the directory listing.');
}

interface Glob {
  /** The directory the pattern is matched in, and the argument's text for it (NLST's prefix). */
  dir: VirtualPath;
  dirText: string;
  matches: (name: string) => boolean;
}

/** The wildcard pattern in the argument's last segment, if it has one. */
function globOf(ctx: CommandContext, pathArg: string): Glob | undefined {
  const slash = pathArg.lastIndexOf('/');
  const last = pathArg.slice(slash + 1);
  if (!hasWildcard(last)) return undefined;
  const dirText = pathArg.slice(0, slash + 1);
  return { dir: dirText === '' ? ctx.session.cwd : ctx.resolve(dirText), dirText, matches: compileGlob(last) };
}

async function statIfExists(ctx: CommandContext, path: VirtualPath): Promise<FileStat | undefined> {
  try {
    return await ctx.storage.stat(path);
  } catch (err) {
    const code = errorToReply(err).code;
    if (code === 'FTP_ERR_NOT_FOUND') return undefined;
    throw err;
  }
}

/**
 * The entries of the pattern's directory whose names match, sorted, one line each (matched directories
 * are not descended into). Needs `list` on that directory, as listing it would; no match is 550, and
 * more than MAX_GLOB_MATCHES is refused (550) rather than cut short, so an mget never silently misses
 * files. Collected before the 150, so both refusals are replies of their own.
 */
async function globStream(ctx: CommandContext, glob: Glob, line: (st: FileStat, prefix: string) => string): Promise<Readable> {
  if (!ctx.user.permissions.allows('list', glob.dir)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
  const dir = await ctx.storage.stat(glob.dir);
  if (dir.type !== 'dir') throw new FtpError(Code.fileUnavailable, 'No files found.');
  const found: FileStat[] = [];
  for await (const entry of ctx.storage.list(glob.dir)) {
    if (!glob.matches(entry.name)) continue;
    if (found.length >= MAX_GLOB_MATCHES) throw new FtpError(Code.fileUnavailable, `Too many matches (more than ${MAX_GLOB_MATCHES}): narrow the pattern.`);
    found.push(entry);
  }
  if (found.length === 0) throw new FtpError(Code.fileUnavailable, 'No files found.');
  found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const text = found.map((st) => line(st, glob.dirText) + '\r\n').join('');
  return markNetworkText(Readable.from([Buffer.from(text)], { objectMode: false }));
}

export const LIST = defineCommand({
  name: 'LIST',
  arg: 'optional',
  access: 'user',
  transfer: true,
  help: 'LIST [<sp> pathname]',
  handle(ctx, arg) {
    const now = Date.now();
    return listCommand(ctx, arg, (st) => lsLine(st, now), false);
  },
});

export const NLST = defineCommand({
  name: 'NLST',
  arg: 'optional',
  access: 'user',
  transfer: true,
  help: 'NLST [<sp> pathname]',
  handle(ctx, arg) {
    // Names only; for `NLST dir` each name is prefixed with `dir/`, as most servers do (mget needs it).
    // The prefix is the client's own argument; both are made safe, so no name can add a line.
    return listCommand(ctx, arg, (st, prefix) => safeName(prefix === '' && st.type === 'file' ? st.name : prefix + st.name), false);
  },
});

export const MLSD = defineCommand({
  name: 'MLSD',
  arg: 'optional',
  access: 'user',
  transfer: true,
  help: 'MLSD [<sp> pathname]',
  handle(ctx, arg) {
    const perms = ctx.user.permissions;
    const facts = ctx.session.mlstFacts;
    const target = arg === '' ? ctx.session.cwd : ctx.resolve(arg);
    if (!perms.allows('list', target)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
    return ctx.sendData(async () => {
      const st = await ctx.storage.stat(target);
      if (st.type !== 'dir') throw new FtpError(Code.badArguments, 'Not a directory.');
      return { stream: listingStream(ctx, target, st, mlsdLineFor(perms, target, facts)) };
    }, 'Here comes the directory listing.');
  },
});

export const MLST = defineCommand({
  name: 'MLST',
  arg: 'optional',
  access: 'user',
  path: 'optional-arg',
  perm: 'list',
  feat: (ctx) => 'MLST ' + MLST_FACTS.map((f) => f + (ctx.session.mlstFacts.has(f.toLowerCase()) ? '*;' : ';')).join(''),
  help: 'MLST [<sp> pathname]',
  async handle(ctx, _arg, path) {
    const st = await ctx.storage.stat(path);
    const shown = { ...st, name: formatPath(path) };
    return reply(Code.fileActionOk, `Listing ${formatPath(path)}`, ' ' + mlsxLine(shown, path, ctx.user.permissions, ctx.session.mlstFacts), 'End.');
  },
});

const STAT_MAX_LINES = 10_000;

async function statusOf(ctx: SessionContext, user: LoggedInUser, arg: string): Promise<Reply> {
  const { path: pathArg } = splitListArg(arg);
  const target = ctx.resolve(pathArg === '' ? '.' : pathArg);
  if (!user.permissions.allows('list', target)) throw new FtpError(Code.fileUnavailable, 'Permission denied.');
  const storage = user.storage;
  const st = await storage.stat(target);
  const now = Date.now();
  const lines = [`Status of ${formatPath(target)}:`];
  if (st.type === 'dir') {
    for await (const entry of storage.list(target)) {
      if (lines.length > STAT_MAX_LINES) {
        lines.push('(listing truncated: use LIST or MLSD)');
        break;
      }
      lines.push(lsLine(entry, now));
    }
  } else {
    lines.push(lsLine(st, now));
  }
  lines.push('End of status.');
  return reply(Code.fileStatus, ...lines);
}

export const STAT = defineCommand({
  name: 'STAT',
  arg: 'optional',
  access: 'public',
  duringTransfer: true,
  help: 'STAT [<sp> pathname]',
  async handle(ctx, arg) {
    if (ctx.transferring) return reply(Code.fileStatus, `Transfer in progress: ${ctx.transferredBytes} bytes.`);
    if (arg !== '') {
      if (!ctx.session.user) return reply(Code.notLoggedIn, NOT_LOGGED_IN);
      return statusOf(ctx, ctx.session.user, arg);
    }
    const s = ctx.session;
    return reply(
      211,
      'ftpsd status:',
      `Connected from ${ctx.remoteAddress}`,
      s.user ? `Logged in as ${s.user.name}` : 'Not logged in',
      `TYPE: ${s.type === 'I' ? 'BINARY' : 'ASCII'}, STRUcture: File, MODE: Stream`,
      `Control connection: ${ctx.secure ? 'TLS' : 'plain'}; data protection: ${s.prot === 'P' ? 'Private' : 'Clear'}`,
      'End of status.',
    );
  },
});

export const listingCommands = [LIST, NLST, MLSD, MLST, STAT];
