/**
 * Login and session commands: USER PASS ACCT REIN QUIT HOST (RFC 959, RFC 7151).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { reply, sent } from '../base/reply.js';
import { defineCommand } from './define.js';
import { Code } from '../base/reply-codes.js';

export const USER = defineCommand({
  name: 'USER',
  credentials: true,
  arg: 'required',
  access: 'public',
  help: 'USER <sp> username',
  async handle(ctx, arg) {
    // A new USER starts the login again (RFC 959 4.1.1).
    ctx.session.resetLogin();
    // RFC 4217 section 12.2: a verified client certificate that alone logs this user in needs no PASS.
    const byCertificate = await ctx.certificateLogin(arg);
    if (byCertificate === 'ok') return reply(Code.loggedInByCertificate, 'Login successful (client certificate).');
    if (byCertificate === 'too-many-sessions') {
      await ctx.send(reply(Code.serviceUnavailable, `Too many sessions for this user (limit ${ctx.settings.limits.maxSessionsPerUser}: maxSessionsPerUser).`));
      ctx.close();
      return sent(Code.serviceUnavailable);
    }
    ctx.session.pendingUser = arg;
    return reply(Code.needPassword, 'Please specify the password.');
  },
});

export const PASS = defineCommand({
  name: 'PASS',
  credentials: true,
  arg: 'optional',
  access: 'public',
  sensitive: true,
  help: 'PASS <sp> password',
  async handle(ctx, arg) {
    const { session } = ctx;
    if (session.user) return reply(Code.loggedIn, 'Already logged in.');
    const user = session.pendingUser;
    if (user === undefined) return reply(Code.badSequence, 'Login with USER first.');
    session.pendingUser = undefined;
    // Every failure is answered at the same moment after PASS arrived, whatever the cause (unknown user,
    // wrong password, argon2id or plain account, banned address): the check runs inside the budget.
    const deadline = performance.now() + ctx.settings.limits.loginFailureDelayMs;
    const outcome = await ctx.login(user, arg);
    if (outcome === 'ok') return reply(Code.loggedIn, 'Login successful.');
    if (outcome === 'unavailable') {
      await ctx.send(reply(Code.serviceUnavailable, 'Login service unavailable, try again later.'));
      ctx.close();
      return sent(Code.serviceUnavailable);
    }
    if (outcome === 'too-many-sessions') {
      await ctx.send(reply(Code.serviceUnavailable, `Too many sessions for this user (limit ${ctx.settings.limits.maxSessionsPerUser}: maxSessionsPerUser).`));
      ctx.close();
      return sent(Code.serviceUnavailable);
    }
    const wait = deadline - performance.now();
    if (wait > 0) await sleep(wait);
    if (outcome === 'banned' || session.failedLogins >= ctx.settings.limits.maxLoginFailures) {
      await ctx.send(reply(Code.notLoggedIn, 'Login incorrect.'));
      await ctx.send(reply(Code.serviceUnavailable, 'Too many failed logins; closing connection.'));
      ctx.close();
      return sent(Code.serviceUnavailable);
    }
    return reply(Code.notLoggedIn, 'Login incorrect.');
  },
});

export const ACCT = defineCommand({
  name: 'ACCT',
  credentials: true,
  arg: 'required',
  access: 'public',
  help: 'ACCT <sp> account',
  handle: () => reply(Code.superfluous, 'ACCT not needed.'),
});

export const REIN = defineCommand({
  name: 'REIN',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  help: 'REIN (reinitialize: log out, keep the connection)',
  async handle(ctx) {
    await ctx.abortTransfer();
    ctx.session.reinitialize();
    return reply(Code.serviceReady, 'Ready for new user.');
  },
});

export const QUIT = defineCommand({
  name: 'QUIT',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  help: 'QUIT (close the connection)',
  handle(ctx) {
    ctx.close();
    return reply(Code.closingControl, 'Goodbye.');
  },
});

// RFC 7151: a domain name, an IPv4 literal, or an IPv6 literal in brackets.
const HOST_NAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$|^\[[0-9A-Fa-f:.]+\]$/;

export const HOST = defineCommand({
  name: 'HOST',
  arg: 'required',
  access: 'public',
  beforeTls: true,
  feat: 'HOST',
  help: 'HOST <sp> hostname',
  handle(ctx, arg) {
    if (ctx.session.user || ctx.session.pendingUser !== undefined) return reply(Code.badSequence, 'HOST must come before USER.');
    const host = arg.trim();
    if (host.length > 253 || !HOST_NAME.test(host)) return reply(Code.badArguments, 'Invalid host name.');
    ctx.session.host = host;
    return reply(Code.serviceReady, 'Host accepted.');
  },
});

export const authCommands = [USER, PASS, ACCT, REIN, QUIT, HOST];
