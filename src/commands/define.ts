/**
 * Commands are defined next to their metadata (`CommandSpec`, in context.ts with the contexts its handler
 * gets); the dispatcher does the generic checks (TLS policy, login, argument shape, path resolution,
 * permission) before a handler runs, and FEAT and HELP are generated from the registry, so they cannot
 * drift from what is implemented.
 */
import type { CommandSpec, SessionContext } from './context.js';

/**
 * Defines a command with the metadata the built-in commands use; pass it in the server's `commands`
 * option. A command with the name of a built-in replaces it.
 *
 * ```ts
 * const DATE = defineCommand({
 *   name: 'DATE',
 *   arg: 'none',
 *   access: 'public',
 *   feat: 'DATE',
 *   help: 'DATE (the server time)',
 *   handle: () => reply(213, new Date().toISOString()),
 * });
 * createServer({ ..., commands: [DATE] });
 * ```
 */
export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

/** The optional Storage methods that switch commands on. */
export type StorageCapability = 'setTime' | 'chmod' | 'checksum' | 'freeSpace' | 'symlink';

/**
 * An `available` test for a command that needs a storage capability: after login the user's storage
 * decides; before login there is no storage yet, so the command counts as available (FEAT announces it).
 */
export function storageHas(capability: StorageCapability): (ctx: SessionContext) => boolean {
  return (ctx) => ctx.session.user === undefined || typeof ctx.session.user.storage[capability] === 'function';
}
