/**
 * SITE and its subcommands (CHMOD, SYMLINK, HELP). Subcommands are registered like commands, with the
 * same kind of metadata, so embedders add their own with `defineSiteCommand` (the `siteCommands`
 * option) and get the same checks: argument shape (501), path resolution (553) and permission (550)
 * before the handler runs; SITE itself needs a logged-in user and follows the TLS policy.
 */
import { widens, type Permission } from '../auth/permissions.js';
import { FtpError } from '../base/errors.js';
import { reply, type Reply } from '../base/reply.js';
import type { VirtualPath } from '../base/virtual-path.js';
import { defineCommand, storageHas } from './define.js';
import type { ArgPolicy, CommandContext } from './context.js';
import { Code } from '../base/reply-codes.js';

/** A SITE subcommand: `SITE <name> <argument>`. */
export interface SiteCommandSpec {
  /** The subcommand (`CHMOD` for `SITE CHMOD`); matched case-insensitively. */
  readonly name: string;
  /** The syntax line SITE HELP shows, e.g. `SITE CHMOD <sp> mode <sp> pathname`. */
  readonly help: string;
  /**
   * Whether the subcommand takes an argument (the text after its name): `none` (501 if one is given),
   * `optional` (the default) or `required` (501 with the `help` line if missing).
   */
  readonly arg?: ArgPolicy;
  /**
   * The argument is a path: it is resolved against the current directory (553 if invalid) and `perm`
   * is checked on it (550 if denied) before `handle` gets it. `optional-arg`: no argument means the
   * current directory.
   */
  readonly path?: 'arg' | 'optional-arg';
  /** The permission needed on `path`. */
  readonly perm?: Permission;
  /** Whether the subcommand exists for this session (SITE HELP leaves it out, SITE answers 504). */
  readonly available?: (ctx: CommandContext) => boolean;
  /**
   * Runs the subcommand. `arg` is the text after the subcommand's name, verbatim; `path` is the resolved
   * path when `path` is set (else the current directory). Return the reply, or throw an `FtpError` or a
   * `StorageError` (mapped to a reply like any command's).
   */
  readonly handle: (ctx: CommandContext, arg: string, path: VirtualPath) => Promise<Reply> | Reply;
}

/**
 * Defines a SITE subcommand. Pass it in the server's `siteCommands` option; one with the name of a
 * built-in (CHMOD, SYMLINK) replaces it.
 *
 * ```ts
 * const SITE_WHO = defineSiteCommand({
 *   name: 'WHO',
 *   help: 'SITE WHO (who am I)',
 *   arg: 'none',
 *   handle: (ctx) => reply(200, `You are ${ctx.user.name}.`),
 * });
 * ```
 */
export function defineSiteCommand(spec: SiteCommandSpec): SiteCommandSpec {
  return spec;
}

export const SITE_CHMOD = defineSiteCommand({
  name: 'CHMOD',
  help: 'SITE CHMOD <sp> mode <sp> pathname',
  arg: 'required',
  available: storageHas('chmod'),
  async handle(ctx, arg) {
    const m = /^\s*([0-7]{1,4})\s+(.+)$/.exec(arg);
    if (!m) return reply(Code.badArguments, 'Syntax: SITE CHMOD mode pathname');
    const mode = parseInt(m[1]!, 8);
    // Storages keep only the permission bits: refused rather than dropped behind a 200.
    if ((mode & 0o7000) !== 0) return reply(Code.badParameter, 'SITE CHMOD: setuid, setgid and sticky bits are not allowed.');
    const path: VirtualPath = ctx.resolve(m[2]!);
    if (!ctx.user.permissions.allows('chmod', path)) return reply(Code.fileUnavailable, 'Permission denied.');
    await ctx.storage.chmod!(path, mode);
    return reply(Code.ok, 'SITE CHMOD command ok.');
  },
});

/** Names separated by spaces; a name with spaces is written in double quotes (`""` for a quote). */
export function splitNames(arg: string): string[] | undefined {
  const names: string[] = [];
  const token = /\s*(?:"((?:[^"]|"")*)"|([^\s"]+))/y;
  let at = 0;
  while (at < arg.length) {
    if (/^\s*$/.test(arg.slice(at))) break;
    token.lastIndex = at;
    const m = token.exec(arg);
    if (!m) return undefined;
    names.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!);
    at = token.lastIndex;
  }
  return names;
}

/**
 * SITE SYMLINK target link-name (as ProFTPD's mod_site_misc): `link-name` becomes a symbolic link to the
 * existing `target`. Needs `write` where the link goes and `list` or `read` at the target, and the link must not allow more than the target
 * does: every permission the user has at the link's place must hold at the target too, and a directory
 * is linked only when no per-directory rule applies below the target or below the link (the link would
 * carry its own place's permissions over the target's subtree).
 */
export const SITE_SYMLINK = defineSiteCommand({
  name: 'SYMLINK',
  help: 'SITE SYMLINK <sp> target <sp> link-name',
  arg: 'required',
  available: storageHas('symlink'),
  async handle(ctx, arg) {
    const names = splitNames(arg);
    if (names?.length !== 2) return reply(Code.badArguments, 'Syntax: SITE SYMLINK target link-name');
    const target = ctx.resolve(names[0]!);
    const link = ctx.resolve(names[1]!);
    if (link.length === 0) throw new FtpError(Code.nameNotAllowed, 'File name not allowed.', { code: 'FTP_ERR_BAD_NAME' });
    const perms = ctx.user.permissions;
    if (!perms.allows('write', link)) return reply(Code.fileUnavailable, 'Permission denied.');
    const wider = reply(Code.fileUnavailable, 'Permission denied: the link would allow more than its target.');
    if (widens(perms, target, link)) return wider;
    // Checked before the target is looked at: a target the user may neither list nor read gets the same
    // reply whether it exists or not.
    if (!(perms.allows('list', target) || perms.allows('read', target))) return reply(Code.fileUnavailable, 'Permission denied.');
    const st = await ctx.storage.stat(target);
    if (st.type === 'dir' && !(perms.uniformBelow?.(target) === true && perms.uniformBelow(link))) return wider;
    await ctx.storage.symlink!(target, link);
    return reply(Code.ok, 'SITE SYMLINK command ok.');
  },
});

export class SiteRegistry {
  private readonly commands = new Map<string, SiteCommandSpec>();

  constructor(specs: Iterable<SiteCommandSpec> = []) {
    for (const s of specs) this.add(s);
  }

  /** Adds a subcommand; one with the name of an earlier one replaces it. */
  add(spec: SiteCommandSpec): void {
    this.commands.set(spec.name.toUpperCase(), spec);
  }

  get(name: string): SiteCommandSpec | undefined {
    return this.commands.get(name.toUpperCase());
  }

  all(): SiteCommandSpec[] {
    return [...this.commands.values()];
  }
}

/** The checks of the dispatcher, for a subcommand: argument shape, path and permission. */
async function runSite(ctx: CommandContext, spec: SiteCommandSpec, arg: string): Promise<Reply> {
  const policy = spec.arg ?? 'optional';
  if (policy === 'none' && arg.trim() !== '') return reply(Code.badArguments, `SITE ${spec.name.toUpperCase()} takes no argument.`);
  if (policy === 'required' && arg.trim() === '') return reply(Code.badArguments, `Syntax: ${spec.help}`);
  let path: VirtualPath = ctx.session.cwd;
  if (spec.path) {
    if (arg === '' && spec.path === 'arg') return reply(Code.badArguments, `Syntax: ${spec.help}`);
    path = arg === '' ? ctx.session.cwd : ctx.resolve(arg);
    if (spec.perm && !ctx.user.permissions.allows(spec.perm, path)) return reply(Code.fileUnavailable, 'Permission denied.');
  }
  return spec.handle(ctx, arg, path);
}

export function siteCommand(registry: SiteRegistry) {
  return defineCommand({
    name: 'SITE',
    arg: 'required',
    access: 'user',
    help: 'SITE <sp> subcommand (SITE HELP lists them)',
    async handle(ctx, arg) {
      const space = arg.indexOf(' ');
      const name = (space < 0 ? arg : arg.slice(0, space)).toUpperCase();
      const rest = space < 0 ? '' : arg.slice(space + 1);
      const available = registry.all().filter((s) => !s.available || s.available(ctx));
      if (name === 'HELP') {
        return reply(Code.help, 'SITE commands:', ...available.map((s) => ' ' + s.help), ' SITE HELP', 'End.');
      }
      const spec = registry.get(name);
      if (!spec || !available.includes(spec)) return reply(Code.badParameter, `Unknown SITE command ${name}.`);
      return runSite(ctx, spec, rest);
    },
  });
}
