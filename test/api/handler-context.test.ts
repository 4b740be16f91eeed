/**
 * What a handler gets follows its command's `access` (issue 10): a public command the session's context,
 * without a user or a storage; a command that needs a login the user and their storage as values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineCommand, reply, type CommandContext } from '../../src/index.js';
import { loggedIn } from '../helpers/flows.js';
import { RawClient } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Public: says whether its context has a user or a storage, and who is logged in. */
const WHO = defineCommand({
  name: 'WHO',
  arg: 'none',
  access: 'public',
  help: 'WHO',
  handle: (ctx) => reply(200, `user:${'user' in ctx} storage:${'storage' in ctx} session:${ctx.session.user?.name ?? '-'}`),
});

/** Public, with a path and a permission: before login the permission check answers 530. */
const PEEK = defineCommand({ name: 'PEEK', arg: 'required', access: 'public', path: 'arg', perm: 'read', help: 'PEEK <sp> path', handle: () => reply(200, 'peeked') });

/** Needs a login: keeps its context, to read it again after the login is gone (REIN). */
let kept: CommandContext | undefined;
const MINE = defineCommand({
  name: 'MINE',
  arg: 'none',
  access: 'user',
  help: 'MINE',
  handle: (ctx) => {
    kept = ctx;
    return reply(200, `${ctx.user.name} ${ctx.storage === ctx.user.storage}`);
  },
});

describe('handler contexts', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ commands: [WHO, PEEK, MINE] });
  });
  afterAll(() => t.close());

  it('a public command sees no user and no storage, before or after login; session.user says who', async () => {
    const c = await RawClient.connect(t.port);
    await c.expectCmd('WHO', 200, /^200 user:false storage:false session:-$/);
    await c.expectCmd('PEEK x', 530, /^530 Please login with USER and PASS\.$/);
    await c.expectCmd('MINE', 530, /^530 Please login with USER and PASS\.$/);
    c.close();
    const d = await loggedIn(t);
    await d.expectCmd('WHO', 200, /^200 user:false storage:false session:alice$/);
    await d.expectCmd('PEEK x', 200, /^200 peeked$/);
    d.close();
  });

  it('a command that needs a login gets the user and their storage as values, which a logout does not turn into a 530', async () => {
    const c = await loggedIn(t);
    await c.expectCmd('MINE', 200, /^200 alice true$/);
    await c.expectCmd('REIN', 220);
    expect(kept?.session.user).toBeUndefined();
    expect(kept?.user.name).toBe('alice');
    c.close();
  });
});
