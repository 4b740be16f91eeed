/**
 * Informational commands: SYST NOOP HELP FEAT OPTS CLNT (RFC 959, RFC 2389, RFC 2640).
 */
import { MLST_FACTS } from '../listing/mlsx-format.js';
import { reply } from '../base/reply.js';
import type { HashAlgorithm } from '../storage/storage.js';
import { defineCommand } from './define.js';
import type { SessionContext } from './context.js';
import { HASH_ALGORITHMS, hashAvailable } from './hash.js';
import { Code } from '../base/reply-codes.js';

export const SYST = defineCommand({
  name: 'SYST',
  arg: 'none',
  access: 'public',
  help: 'SYST (system type)',
  handle: () => reply(Code.systemType, 'UNIX Type: L8'),
});

export const NOOP = defineCommand({
  name: 'NOOP',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  help: 'NOOP',
  handle: () => reply(Code.ok, 'NOOP ok.'),
});

export const CLNT = defineCommand({
  name: 'CLNT',
  arg: 'optional',
  access: 'public',
  beforeTls: true,
  help: 'CLNT <sp> client-name',
  handle: () => reply(Code.ok, 'Noted.'),
});

export const FEAT = defineCommand({
  name: 'FEAT',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  help: 'FEAT (list the extensions)',
  handle(ctx) {
    const lines = ctx.registry.features(ctx).map((f) => ' ' + f);
    return reply(Code.systemStatus, 'Features:', ...lines, 'End');
  },
});

export const HELP = defineCommand({
  name: 'HELP',
  arg: 'optional',
  access: 'public',
  beforeTls: true,
  help: 'HELP [<sp> command]',
  handle(ctx, arg) {
    const verb = arg.trim().toUpperCase();
    if (verb !== '') {
      const spec = ctx.registry.get(verb);
      if (!spec || (spec.available && !spec.available(ctx))) return reply(Code.notImplemented, `Unknown command ${verb}.`);
      return reply(Code.help, `Syntax: ${spec.help}`);
    }
    const verbs = ctx.registry.verbs(ctx);
    const rows: string[] = [];
    for (let i = 0; i < verbs.length; i += 8) rows.push(' ' + verbs.slice(i, i + 8).map((v) => v.padEnd(5)).join(' '));
    return reply(Code.help, 'The following commands are recognized:', ...rows, 'Help OK.');
  },
});

function optsMlst(ctx: SessionContext, value: string) {
  const wanted = new Set(value.toLowerCase().split(';').filter(Boolean));
  const chosen = MLST_FACTS.filter((f) => wanted.has(f.toLowerCase()));
  ctx.session.mlstFacts = new Set(chosen.map((f) => f.toLowerCase()));
  // RFC 3659 7.9: the facts follow after a space, if there are any.
  return reply(Code.ok, chosen.length > 0 ? `MLST OPTS ${chosen.map((f) => f + ';').join('')}` : 'MLST OPTS');
}

export const OPTS = defineCommand({
  name: 'OPTS',
  arg: 'required',
  access: 'public',
  beforeTls: true,
  feat: 'UTF8',
  help: 'OPTS <sp> UTF8 ON | MLST facts | HASH algorithm',
  handle(ctx, arg) {
    const space = arg.indexOf(' ');
    const name = (space < 0 ? arg : arg.slice(0, space)).toUpperCase();
    const value = space < 0 ? '' : arg.slice(space + 1).trim();
    switch (name) {
      case 'UTF8':
      case 'UTF-8':
        if (value === '' || value.toUpperCase() === 'ON') return reply(Code.ok, 'Always in UTF8 mode.');
        return reply(Code.badParameter, 'UTF8 cannot be turned off.');
      case 'MLST':
        return optsMlst(ctx, value);
      case 'HASH': {
        if (!hashAvailable(ctx)) return reply(Code.badArguments, 'Option not understood.');
        if (value === '') return reply(Code.ok, ctx.session.hashAlgorithm);
        const algo = HASH_ALGORITHMS.find((a) => a === value.toUpperCase()) as HashAlgorithm | undefined;
        if (!algo) return reply(Code.badArguments, 'Unknown hash algorithm.');
        ctx.session.hashAlgorithm = algo;
        return reply(Code.ok, algo);
      }
      default:
        return reply(Code.badArguments, 'Option not understood.');
    }
  },
});

export const miscCommands = [SYST, NOOP, CLNT, FEAT, HELP, OPTS];
