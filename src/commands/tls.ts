/**
 * Security commands (RFC 2228, RFC 4217): AUTH, PBSZ, PROT, CCC.
 */
import { reply, sent } from '../base/reply.js';
import { cccAllowed, cccOffered, clearDataAllowed } from '../policy.js';
import { defineCommand } from './define.js';
import { Code } from '../base/reply-codes.js';

/** AUTH mechanisms: all mean TLS; SSL and TLS-P also switch data protection on (as vsftpd and ProFTPD). */
const MECHANISMS: Record<string, { protect: boolean }> = {
  TLS: { protect: false },
  'TLS-C': { protect: false },
  SSL: { protect: true },
  'TLS-P': { protect: true },
};

export const AUTH = defineCommand({
  name: 'AUTH',
  arg: 'required',
  access: 'public',
  beforeTls: true,
  feat: (ctx) => (ctx.tlsAvailable ? 'AUTH TLS' : undefined),
  help: 'AUTH <sp> TLS',
  async handle(ctx, arg) {
    const mechanism = MECHANISMS[arg.trim().toUpperCase()];
    if (!mechanism) return reply(Code.badParameter, 'Unsupported security mechanism: use AUTH TLS.');
    if (!ctx.tlsAvailable) return reply(Code.securityResourceUnavailable, 'TLS is not available on this server.');
    if (ctx.secure) return reply(Code.badSequence, 'TLS is already active.');
    // A successful AUTH starts the login again (RFC 4217 section 4).
    ctx.session.resetLogin();
    await ctx.send(reply(Code.securityExchangeDone, `Proceed with negotiation (AUTH ${arg.trim().toUpperCase()}).`));
    await ctx.startTls();
    if (mechanism.protect) {
      ctx.session.pbsz = true;
      ctx.session.prot = 'P';
    }
    return sent(Code.securityExchangeDone);
  },
});

export const PBSZ = defineCommand({
  name: 'PBSZ',
  arg: 'required',
  access: 'public',
  beforeTls: true,
  feat: (ctx) => (ctx.tlsAvailable ? 'PBSZ' : undefined),
  help: 'PBSZ <sp> 0',
  handle(ctx, arg) {
    if (!ctx.secure) return reply(Code.badSequence, 'PBSZ needs a secure control connection: send AUTH TLS first.');
    if (!/^\d{1,10}$/.test(arg.trim())) return reply(Code.badArguments, 'PBSZ needs a number.');
    ctx.session.pbsz = true;
    return reply(Code.ok, 'PBSZ=0');
  },
});

export const PROT = defineCommand({
  name: 'PROT',
  arg: 'required',
  access: 'public',
  beforeTls: true,
  feat: (ctx) => (ctx.tlsAvailable ? 'PROT' : undefined),
  help: 'PROT <sp> C|P',
  handle(ctx, arg) {
    if (!ctx.secure) return reply(Code.badSequence, 'PROT needs a secure control connection: send AUTH TLS first.');
    if (!ctx.session.pbsz) return reply(Code.badSequence, 'PROT needs PBSZ first.');
    const level = arg.trim().toUpperCase();
    if (level === 'C') {
      // RFC 4217 section 9: 534, refused for policy reasons (see `dataProtection` in settings.ts).
      if (!clearDataAllowed(ctx.settings, ctx.session.usedTls)) return reply(Code.protectionLevelDenied, 'PROT C refused: data connections must be protected.');
      ctx.session.prot = 'C';
      return reply(Code.ok, 'Protection level set to Clear.');
    }
    if (level === 'P') {
      ctx.session.prot = 'P';
      return reply(Code.ok, 'Protection level set to Private.');
    }
    if (level === 'S' || level === 'E') return reply(Code.protectionLevelNotSupported, `Protection level ${level} not supported.`);
    return reply(Code.badParameter, 'Unknown protection level.');
  },
});

export const CCC = defineCommand({
  name: 'CCC',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  feat: (ctx) => (ctx.tlsAvailable && cccOffered(ctx.settings) ? 'CCC' : undefined),
  help: 'CCC (clear the command channel)',
  async handle(ctx) {
    if (!ctx.secure) return reply(Code.policyDenied, 'The command channel is not protected.');
    if (!cccAllowed(ctx.settings, ctx.session.user !== undefined)) {
      return reply(Code.policyDenied, 'CCC refused by policy: the command channel must stay protected.');
    }
    await ctx.clearTls(reply(Code.ok, 'Clearing the command channel.'));
    return sent(Code.ok);
  },
});

export const tlsCommands = [AUTH, PBSZ, PROT, CCC];
