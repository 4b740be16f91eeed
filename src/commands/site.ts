/**
 * SITE and its subcommands (CHMOD, HELP). Subcommands are registered like commands, so embedders can add
 * their own with the same metadata.
 */
import { reply, type Reply } from '../protocol/reply.js';
import type { VirtualPath } from '../storage/virtual-path.js';
import { defineCommand } from './define.js';
import type { CommandContext } from './context.js';

export interface SiteCommandSpec {
  readonly name: string;
  readonly help: string;
  readonly available?: (ctx: CommandContext) => boolean;
  readonly handle: (ctx: CommandContext, arg: string) => Promise<Reply> | Reply;
}

export function defineSiteCommand(spec: SiteCommandSpec): SiteCommandSpec {
  return spec;
}

export const SITE_CHMOD = defineSiteCommand({
  name: 'CHMOD',
  help: 'SITE CHMOD <sp> mode <sp> pathname',
  available: (ctx) => ctx.session.user === undefined || typeof ctx.session.user.storage.chmod === 'function',
  async handle(ctx, arg) {
    const m = /^\s*([0-7]{1,4})\s+(.+)$/.exec(arg);
    if (!m) return reply(501, 'Syntax: SITE CHMOD mode pathname');
    const path: VirtualPath = ctx.resolve(m[2]!);
    if (!ctx.user.permissions.allows('chmod', path)) return reply(550, 'Permission denied.');
    await ctx.storage.chmod!(path, parseInt(m[1]!, 8));
    return reply(200, 'SITE CHMOD command ok.');
  },
});

export class SiteRegistry {
  private readonly commands = new Map<string, SiteCommandSpec>();

  constructor(specs: Iterable<SiteCommandSpec> = []) {
    for (const s of specs) this.add(s);
  }

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
        return reply(214, 'SITE commands:', ...available.map((s) => ' ' + s.help), ' SITE HELP', 'End.');
      }
      const spec = registry.get(name);
      if (!spec || !available.includes(spec)) return reply(504, `Unknown SITE command ${name}.`);
      return spec.handle(ctx, rest);
    },
  });
}
