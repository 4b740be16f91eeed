/**
 * Transfer parameters: TYPE MODE STRU REST ALLO, and the data connection set-up commands
 * PASV EPSV PORT EPRT (RFC 959, RFC 2428, RFC 3659).
 */
import { isIPv4 } from 'node:net';
import { formatEpsv, formatPasv, parseEprt, parseEpsv, parsePort, sameHost } from '../base/address.js';
import { reply, type Reply } from '../base/reply.js';
import { defineCommand } from './define.js';
import type { CommandContext } from './context.js';
import { Code } from '../base/reply-codes.js';

export const TYPE = defineCommand({
  name: 'TYPE',
  arg: 'required',
  access: 'user',
  help: 'TYPE <sp> A|I',
  handle(ctx, arg) {
    const parts = arg.trim().toUpperCase().split(/\s+/);
    const [code, param] = parts;
    if (parts.length > 2) return reply(Code.badArguments, 'Syntax: TYPE A|I');
    if (code === 'I' && param === undefined) {
      ctx.session.type = 'I';
      return reply(Code.ok, 'Switching to Binary mode.');
    }
    if (code === 'L' && param === '8') {
      ctx.session.type = 'I';
      return reply(Code.ok, 'Switching to Binary mode.');
    }
    if (code === 'A' && (param === undefined || param === 'N')) {
      ctx.session.type = 'A';
      return reply(Code.ok, 'Switching to ASCII mode.');
    }
    if (code === 'A' || code === 'E' || code === 'L') return reply(Code.badParameter, 'Type not supported.');
    return reply(Code.badArguments, 'Syntax: TYPE A|I');
  },
});

export const MODE = defineCommand({
  name: 'MODE',
  arg: 'required',
  access: 'user',
  help: 'MODE <sp> S',
  handle(_ctx, arg) {
    const mode = arg.trim().toUpperCase();
    if (mode === 'S') return reply(Code.ok, 'Mode set to S.');
    if (mode === 'B' || mode === 'C' || mode === 'Z') return reply(Code.badParameter, 'Only MODE S is supported.');
    return reply(Code.badArguments, 'Syntax: MODE S');
  },
});

export const STRU = defineCommand({
  name: 'STRU',
  arg: 'required',
  access: 'user',
  help: 'STRU <sp> F',
  handle(_ctx, arg) {
    const stru = arg.trim().toUpperCase();
    if (stru === 'F') return reply(Code.ok, 'Structure set to F.');
    if (stru === 'R' || stru === 'P') return reply(Code.badParameter, 'Only STRU F is supported.');
    return reply(Code.badArguments, 'Syntax: STRU F');
  },
});

export const REST = defineCommand({
  name: 'REST',
  arg: 'required',
  access: 'user',
  feat: 'REST STREAM',
  help: 'REST <sp> offset',
  handle(ctx, arg) {
    const text = arg.trim();
    if (!/^\d{1,15}$/.test(text)) return reply(Code.badArguments, 'REST needs a byte offset.');
    ctx.session.restOffset = Number(text);
    return reply(Code.pendingFurtherInfo, `Restarting at ${text}. Send STORE or RETRIEVE.`);
  },
});

export const ALLO = defineCommand({
  name: 'ALLO',
  arg: 'required',
  access: 'user',
  help: 'ALLO <sp> size [<sp> R <sp> record-size]',
  async handle(ctx, arg) {
    const m = /^\s*(\d{1,18})(?:\s+R\s+\d{1,18})?\s*$/i.exec(arg);
    if (!m) return reply(Code.badArguments, 'Syntax: ALLO size');
    const free = ctx.storage.freeSpace ? await ctx.storage.freeSpace(ctx.session.cwd).catch(() => undefined) : undefined;
    if (free !== undefined && Number(m[1]) > free) return reply(Code.insufficientStorage, 'Insufficient storage space.');
    return reply(Code.superfluous, 'No storage allocation necessary.');
  },
});

function epsvAllInForce(ctx: CommandContext): Reply | undefined {
  return ctx.session.epsvAll ? reply(Code.badSequence, 'EPSV ALL in force: only EPSV is allowed.') : undefined;
}

export const PASV = defineCommand({
  name: 'PASV',
  arg: 'none',
  access: 'user',
  help: 'PASV (passive mode, IPv4)',
  async handle(ctx) {
    const refused = epsvAllInForce(ctx);
    if (refused) return refused;
    // An IPv6 client can only be given an IPv4 address by a pasvAddress rule that matches it.
    if (ctx.family !== 4 && !ctx.settings.pasvAddress?.matches(ctx.remoteAddress)) return reply(Code.cannotOpenData, 'PASV is for IPv4: use EPSV.');
    // The advertised address (pasvAddress rules, NAT) and port (port mapping) come from the data side.
    const res = await ctx.prepareData({ kind: 'passive', extended: false });
    if (!res || !isIPv4(res.host)) return reply(Code.cannotOpenData, 'PASV is for IPv4: use EPSV.');
    return reply(Code.enteringPassive, formatPasv(res.host, res.port));
  },
});

export const EPSV = defineCommand({
  name: 'EPSV',
  arg: 'optional',
  access: 'user',
  feat: 'EPSV',
  help: 'EPSV [<sp> 1|2|ALL]',
  async handle(ctx, arg) {
    const parsed = parseEpsv(arg);
    if (!parsed) return reply(Code.badArguments, 'Syntax: EPSV [1|2|ALL]');
    if (parsed.kind === 'all') {
      ctx.session.epsvAll = true;
      return reply(Code.ok, 'EPSV ALL ok.');
    }
    if (parsed.kind === 'family' && parsed.family !== ctx.family) {
      return reply(Code.protectionNotSupported, `Network protocol not supported, use (${ctx.family === 4 ? 1 : 2})`);
    }
    const res = await ctx.prepareData({ kind: 'passive', extended: true });
    return reply(Code.enteringExtendedPassive, formatEpsv(res!.port));
  },
});

function activeTarget(ctx: CommandContext, host: string, port: number): Reply | undefined {
  if (!sameHost(host, ctx.remoteAddress)) return reply(Code.badArguments, 'Rejected: the data address must be your own address.');
  if (port < 1024) return reply(Code.badArguments, 'Rejected: data port must not be privileged (below 1024).');
  return undefined;
}

export const PORT = defineCommand({
  name: 'PORT',
  arg: 'required',
  access: 'user',
  help: 'PORT <sp> h1,h2,h3,h4,p1,p2',
  async handle(ctx, arg) {
    const refused = epsvAllInForce(ctx);
    if (refused) return refused;
    const target = parsePort(arg);
    if (!target) return reply(Code.badArguments, 'Syntax: PORT h1,h2,h3,h4,p1,p2');
    if (ctx.family !== 4) return reply(Code.protectionNotSupported, 'Network protocol not supported, use (2)');
    const bad = activeTarget(ctx, target.host, target.port);
    if (bad) return bad;
    await ctx.prepareData({ kind: 'active', host: target.host, port: target.port });
    return reply(Code.ok, 'PORT command successful. Consider using PASV.');
  },
});

export const EPRT = defineCommand({
  name: 'EPRT',
  arg: 'required',
  access: 'user',
  feat: 'EPRT',
  help: 'EPRT <sp> |proto|address|port|',
  async handle(ctx, arg) {
    const refused = epsvAllInForce(ctx);
    if (refused) return refused;
    const target = parseEprt(arg);
    if (!target) {
      const text = arg.trim();
      const fields = text.split(text[0] ?? '|');
      if (fields.length === 5 && /^\d+$/.test(fields[1]!) && fields[1] !== '1' && fields[1] !== '2') {
        return reply(Code.protectionNotSupported, `Network protocol not supported, use (${ctx.family === 4 ? 1 : 2})`);
      }
      return reply(Code.badArguments, 'Syntax: EPRT |proto|address|port|');
    }
    if (target.family !== ctx.family) return reply(Code.protectionNotSupported, `Network protocol not supported, use (${ctx.family === 4 ? 1 : 2})`);
    const bad = activeTarget(ctx, target.host, target.port);
    if (bad) return bad;
    await ctx.prepareData({ kind: 'active', host: target.host, port: target.port });
    return reply(Code.ok, 'EPRT command successful.');
  },
});

export const transferParamCommands = [TYPE, MODE, STRU, REST, ALLO, PASV, EPSV, PORT, EPRT];
