/**
 * The built-in command set and the registry a server starts with.
 */
import { authCommands } from './auth.js';
import { AVBL } from './avbl.js';
import { CommandRegistry, type CommandSpec } from './context.js';
import { dirCommands } from './dirs.js';
import { fileCommands } from './files.js';
import { HASH } from './hash.js';
import { listingCommands } from './listing.js';
import { miscCommands } from './misc.js';
import { RANG } from './range.js';
import { SITE_CHMOD, SITE_SYMLINK, SiteRegistry, siteCommand, type SiteCommandSpec } from './site.js';
import { tlsCommands } from './tls.js';
import { transferCommands } from './transfer.js';
import { transferParamCommands } from './transfer-params.js';

export const BUILTIN_COMMANDS: readonly CommandSpec[] = [
  ...authCommands,
  ...tlsCommands,
  ...dirCommands,
  ...fileCommands,
  ...transferParamCommands,
  ...transferCommands,
  ...listingCommands,
  ...miscCommands,
  HASH,
  RANG,
  AVBL,
];

export const BUILTIN_SITE_COMMANDS: readonly SiteCommandSpec[] = [SITE_CHMOD, SITE_SYMLINK];

/** A registry with the built-in commands, plus `extra` commands and SITE subcommands (which may replace built-ins). */
export function createRegistry(extra: Iterable<CommandSpec> = [], extraSite: Iterable<SiteCommandSpec> = []): CommandRegistry {
  const site = new SiteRegistry([...BUILTIN_SITE_COMMANDS, ...extraSite]);
  return new CommandRegistry([...BUILTIN_COMMANDS, siteCommand(site), ...extra]);
}
