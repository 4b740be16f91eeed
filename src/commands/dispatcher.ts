/**
 * The dispatcher pipeline: each step owns one kind of reply.
 *  1. parse: verb upper-cased, argument verbatim                       -> 500 if no verb
 *  2. unknown verb 500; known but not available for this session 502
 *  3. TLS policy: TLS required and not on (credentials: always, even after CCC) -> 530
 *  4. not logged in                                                    -> 530
 *  5. argument shape                                                   -> 501
 *  6. path resolution (553) and permission (550)
 *  7. handler: a Reply, or an FtpError / StorageError mapped by errors.ts; anything else 451
 *  8. one-shot state: RNFR is forgotten unless RNTO follows at once; REST/RANG are spent by the next
 *     transfer command, also one refused before its handler (bad path, permission).
 */
import type { SessionContext } from './context.js';
import { UserContext } from './user-context.js';
import type { CommandSpec } from './context.js';
import type { Permission } from '../auth/permissions.js';
import { reportError } from '../diagnostics.js';
import { tlsRequiredFor } from '../policy.js';
import { errorToReply, FtpError, StorageError } from '../base/errors.js';
import { storageRefusal } from '../base/refusals.js';
import { reply, type Reply, type Sent } from '../base/reply.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { LoggedInUser } from '../session.js';
import { Code, NOT_LOGGED_IN } from '../base/reply-codes.js';

export interface ParsedCommand {
  verb: string;
  arg: string;
}

const VERB = /^[A-Za-z][A-Za-z0-9-]{0,15}$/;

/** Splits a line at the first space: the verb (upper-cased) and the argument, kept verbatim. */
export function parseCommand(line: string): ParsedCommand | undefined {
  const space = line.indexOf(' ');
  const verb = space < 0 ? line : line.slice(0, space);
  if (!VERB.test(verb)) return undefined;
  return { verb: verb.toUpperCase(), arg: space < 0 ? '' : line.slice(space + 1) };
}

export interface DispatchResult {
  spec: CommandSpec | undefined;
  /** The reply for the connection to write; none when the handler wrote its final reply itself. */
  reply: Reply | undefined;
  /**
   * The code of the command's final reply, whoever wrote it (`reply`, or the handler: a transfer's
   * 226/426, AUTH's 234, PASS's 421); undefined if the handler wrote its replies and returned nothing.
   */
  code: number | undefined;
  /** The command was malformed or unknown (counts towards the bad-command limit). */
  bad: boolean;
}

export async function dispatch(ctx: SessionContext, spec: CommandSpec | undefined, parsed: ParsedCommand | undefined): Promise<DispatchResult> {
  const result = (r: Reply | Sent | undefined, bad = false): DispatchResult =>
    r !== undefined && 'sent' in r ? { spec, reply: undefined, code: r.sent, bad } : { spec, reply: r, code: r?.code, bad };
  if (!parsed) return result(reply(Code.syntaxError, 'Syntax error, command unrecognized.'), true);
  if (!spec) return result(reply(Code.syntaxError, 'Unknown command.'), true);
  if (spec.available && !spec.available(ctx)) return result(reply(Code.notImplemented, 'Command not implemented.'), true);

  const { session, settings } = ctx;
  if (spec.name !== 'RNTO') session.renameFrom = undefined;

  if (tlsRequiredFor(settings, spec, { secure: ctx.secure, loggedIn: session.user !== undefined })) {
    // Logged once per connection, so an operator sees why a plain ftp:// client left (and no client can
    // flood the log with it).
    if (!session.tlsRefusalLogged) {
      session.tlsRefusalLogged = true;
      ctx.log.info({ peer: ctx.remoteAddress, cmd: spec.name, reason: 'tls-required', setting: `tlsRequired: ${settings.tlsRequired}` }, 'command refused: TLS required');
    }
    return result(reply(Code.notLoggedIn, 'TLS required: send AUTH TLS first.'));
  }
  const user = session.user;
  if (spec.access === 'user' && !user) return result(reply(Code.notLoggedIn, NOT_LOGGED_IN));

  const arg = parsed.arg;
  if (spec.arg === 'none' && arg.trim() !== '') return result(reply(Code.badArguments, `${spec.name} takes no argument.`), true);
  if (spec.arg === 'required' && arg.trim() === '') return result(reply(Code.badArguments, `Syntax: ${spec.help}`), true);

  try {
    let path: VirtualPath = session.cwd;
    if (spec.path) {
      path = arg === '' && spec.path === 'optional-arg' ? session.cwd : ctx.resolve(arg);
      if (spec.perm && !permitted(user, spec.perm, path)) {
        // A refused transfer still spends a REST/RANG: it must not carry over to a later STOR or RETR.
        if (spec.transfer) spendRestart(ctx);
        ctx.log.info({ peer: ctx.remoteAddress, user: user?.name, cmd: spec.name, path: '/' + path.join('/'), perm: spec.perm, reason: 'permission-denied' }, 'command refused: permission');
        return result(reply(Code.fileUnavailable, 'Permission denied.'));
      }
    }
    // A `user` command got here with a user (530 above): its handler gets the user and storage as values.
    const out = spec.access === 'public' ? await spec.handle(ctx, arg, path) : await spec.handle(new UserContext(ctx, user!), arg, path);
    return result(out ?? undefined);
  } catch (err) {
    if (spec.transfer) spendRestart(ctx);
    const mapped = errorToReply(err);
    const refusal = err instanceof StorageError ? storageRefusal(err.errno) ?? (err.errno === 'EACCES' || err.errno === 'EPERM' ? 'permission-denied' : undefined) : undefined;
    if (refusal === 'permission-denied') {
      ctx.log.info({ peer: ctx.remoteAddress, user: session.user?.name, cmd: spec.name, reason: refusal }, 'command refused: permission');
    } else if (refusal !== undefined) {
      ctx.log.info({ peer: ctx.remoteAddress, user: session.user?.name, cmd: spec.name, reason: refusal, code: mapped.reply.code }, 'command refused: storage');
    }
    if (!mapped.expected) {
      ctx.log.error({ err, cmd: spec.name }, 'command failed');
      reportError(ctx.events, err, ctx.id);
    }
    return result(mapped.reply);
  }
}

/** Whether `user` has `perm` on `path`; a public command with a permission needs a login too (530). */
function permitted(user: LoggedInUser | undefined, perm: Permission, path: VirtualPath): boolean {
  if (!user) throw new FtpError(Code.notLoggedIn, NOT_LOGGED_IN);
  return user.permissions.allows(perm, path);
}

function spendRestart(ctx: SessionContext): void {
  ctx.session.restOffset = 0;
  ctx.session.range = undefined;
}
