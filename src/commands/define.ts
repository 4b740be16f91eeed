/**
 * Commands are defined next to their metadata; the dispatcher does the generic checks (TLS policy,
 * login, argument shape, path resolution, permission) before a handler runs, and FEAT and HELP are
 * generated from this registry, so they cannot drift from what is implemented.
 */
import type { Permission } from '../auth/permissions.js';
import type { Reply } from '../protocol/reply.js';
import type { VirtualPath } from '../storage/virtual-path.js';
import type { CommandContext } from './context.js';

export type ArgPolicy = 'none' | 'optional' | 'required';

export interface CommandSpec {
  /** The verb, upper case. */
  readonly name: string;
  /** Other verbs for the same command (XMKD for MKD, ...). */
  readonly aliases?: readonly string[];
  readonly arg: ArgPolicy;
  /** `public`: allowed before login; `user`: needs a logged-in user. */
  readonly access: 'public' | 'user';
  /** Allowed while TLS is required but not yet on (AUTH, FEAT, QUIT, ...). */
  readonly beforeTls?: boolean;
  /**
   * When the argument is a path, the dispatcher resolves it (553 if invalid) and checks `perm` on it
   * (550 if denied); the handler gets the resolved path. `optional-arg`: the argument may be absent and
   * then means the current directory.
   */
  readonly path?: 'arg' | 'optional-arg';
  readonly perm?: Permission;
  /** Runs alongside the command loop, so ABOR, STAT and QUIT can act while it transfers. */
  readonly transfer?: boolean;
  /** May run while a transfer is active (ABOR, STAT, QUIT, NOOP). */
  readonly duringTransfer?: boolean;
  /** The argument is secret (PASS): never logged. */
  readonly sensitive?: boolean;
  /** The FEAT line(s) this command contributes, if any. */
  readonly feat?: string | ((ctx: CommandContext) => string | readonly string[] | undefined);
  /** Short syntax for HELP. */
  readonly help: string;
  /** Whether the command exists for this session (e.g. MFMT needs a storage with setTime). */
  readonly available?: (ctx: CommandContext) => boolean;
  readonly handle: (ctx: CommandContext, arg: string, path: VirtualPath) => Promise<Reply | void> | Reply | void;
}

export function defineCommand(spec: CommandSpec): CommandSpec {
  return spec;
}

export class CommandRegistry {
  private readonly byVerb = new Map<string, CommandSpec>();
  private readonly ordered: CommandSpec[] = [];

  constructor(specs: Iterable<CommandSpec> = []) {
    for (const spec of specs) this.add(spec);
  }

  /** Adds a command; a later definition of the same verb replaces the earlier one. */
  add(spec: CommandSpec): void {
    const existing = this.byVerb.get(spec.name);
    if (existing) this.ordered.splice(this.ordered.indexOf(existing), 1);
    this.ordered.push(spec);
    for (const verb of [spec.name, ...(spec.aliases ?? [])]) this.byVerb.set(verb, spec);
  }

  get(verb: string): CommandSpec | undefined {
    return this.byVerb.get(verb);
  }

  all(): readonly CommandSpec[] {
    return this.ordered;
  }

  /** Every verb including aliases, sorted (for HELP). */
  verbs(ctx: CommandContext): string[] {
    const out: string[] = [];
    for (const spec of this.ordered) {
      if (spec.available && !spec.available(ctx)) continue;
      out.push(spec.name, ...(spec.aliases ?? []));
    }
    return out.sort();
  }

  /** The FEAT lines for this session, sorted and without duplicates. */
  features(ctx: CommandContext): string[] {
    const lines = new Set<string>();
    for (const spec of this.ordered) {
      if (!spec.feat || (spec.available && !spec.available(ctx))) continue;
      const feat = typeof spec.feat === 'function' ? spec.feat(ctx) : spec.feat;
      if (feat === undefined) continue;
      for (const line of typeof feat === 'string' ? [feat] : feat) lines.add(line);
    }
    return [...lines].sort();
  }
}
