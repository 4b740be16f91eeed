/**
 * Custom commands and SITE subcommands, registered with the built-ins' metadata: they show in HELP,
 * FEAT and SITE HELP, can replace a built-in, and go through the dispatcher's checks (TLS policy, login,
 * argument, path, permission, availability, error mapping) before their handler runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createServer,
  defineCommand,
  defineSiteCommand,
  formatPath,
  FtpError,
  MemoryStorage,
  reply,
  StorageError,
  type FtpsdServer,
} from '../../src/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { testCert } from '../helpers/server.js';
import { portOf } from './helpers.js';

const calls: string[] = [];

const DATE = defineCommand({
  name: 'DATE',
  arg: 'none',
  access: 'public',
  beforeTls: true,
  feat: 'DATE',
  help: 'DATE (the server time)',
  handle: () => reply(213, '20260102030405'),
});

/** Needs a login, a path argument and the `write` permission on it. */
const TOUCH = defineCommand({
  name: 'TOUCH',
  aliases: ['XTOUCH'],
  arg: 'required',
  access: 'user',
  path: 'arg',
  perm: 'write',
  feat: (ctx) => (ctx.session.user ? `TOUCH ${ctx.session.user.name}` : 'TOUCH'),
  help: 'TOUCH <sp> pathname',
  async handle(ctx, arg, path) {
    calls.push(`${arg} -> ${formatPath(path)}`);
    const upload = await ctx.storage.write(path, { mode: 'append' });
    upload.stream.end();
    await upload.commit();
    return reply(250, `Touched ${formatPath(path)}.`);
  },
});

const FAILS = defineCommand({
  name: 'FAILS',
  arg: 'required',
  access: 'user',
  help: 'FAILS <sp> ftp|storage|bug',
  handle(_ctx, arg) {
    if (arg === 'ftp') throw new FtpError(554, 'Chosen reply.');
    if (arg === 'storage') throw new StorageError('ENOSPC');
    throw new TypeError('a bug');
  },
});

/** Exists only for the user `alice`. */
const SECRET = defineCommand({
  name: 'SECRET',
  arg: 'none',
  access: 'user',
  feat: 'SECRET',
  help: 'SECRET',
  available: (ctx) => ctx.session.user?.name === 'alice',
  handle: () => reply(200, 'Only alice knows.'),
});

/** Replaces the built-in SYST. */
const SYST = defineCommand({ name: 'SYST', arg: 'none', access: 'public', help: 'SYST (custom)', handle: () => reply(215, 'UNIX Type: L8 (custom ftpsd)') });

const SITE_WHO = defineSiteCommand({
  name: 'WHO',
  help: 'SITE WHO',
  arg: 'none',
  handle: (ctx) => reply(200, `You are ${ctx.user.name}.`),
});

const SITE_SIZE = defineSiteCommand({
  name: 'DU',
  help: 'SITE DU <sp> pathname',
  arg: 'required',
  path: 'arg',
  perm: 'read',
  async handle(ctx, _arg, path) {
    const st = await ctx.storage.stat(path);
    return reply(200, `${formatPath(path)}: ${st.size} bytes`);
  },
});

/** Replaces the built-in SITE CHMOD. */
const SITE_CHMOD = defineSiteCommand({ name: 'chmod', help: 'SITE CHMOD (disabled)', handle: () => reply(550, 'CHMOD is disabled here.') });

describe('custom commands', () => {
  let server: FtpsdServer;
  beforeAll(async () => {
    const cert = await testCert();
    server = createServer({
      listen: '127.0.0.1:0',
      tls: { cert: cert.cert, key: cert.key },
      users: [
        { name: 'alice', password: 'a' },
        { name: 'reader', password: 'r', readOnly: true },
      ],
      storage: new MemoryStorage({ 'f.txt': 'hello', dir: {} }),
      commands: [DATE, TOUCH, FAILS, SECRET, SYST],
      siteCommands: [SITE_WHO, SITE_SIZE, SITE_CHMOD],
      limits: { loginFailureDelayMs: 0 },
    });
    await server.listen();
  });
  afterAll(() => server.close());

  async function login(user = 'alice', pass = 'a'): Promise<RawClient> {
    const c = await RawClient.connect(portOf(server));
    await c.auth('TLS');
    await c.login(user, pass);
    return c;
  }

  it('show in HELP and FEAT like the built-ins; HELP VERB gives their syntax', async () => {
    const c = await RawClient.connect(portOf(server));
    const feat = await c.expectCmd('FEAT', 211);
    expect(feat.lines).toContain(' DATE');
    expect(feat.lines).toContain(' TOUCH');
    expect(feat.lines).toContain(' AUTH TLS');
    const help = await c.expectCmd('HELP', 214);
    const verbs = help.lines.slice(1, -1).join(' ').split(/\s+/);
    for (const v of ['DATE', 'TOUCH', 'XTOUCH', 'FAILS', 'RETR']) expect(verbs).toContain(v);
    await c.expectCmd('HELP touch', 214, /^214 Syntax: TOUCH <sp> pathname$/);
    await c.expectCmd('HELP XTOUCH', 214, /^214 Syntax: TOUCH <sp> pathname$/);
    c.close();
  });

  it('FEAT lines may depend on the session', async () => {
    const c = await login();
    const feat = await c.expectCmd('FEAT', 211);
    expect(feat.lines).toContain(' TOUCH alice');
    c.close();
  });

  it('a custom command replaces the built-in of the same name', async () => {
    const c = await RawClient.connect(portOf(server));
    await c.expectCmd('SYST', 530, /TLS required/);
    await c.auth('TLS');
    await c.expectCmd('SYST', 215, /^215 UNIX Type: L8 \(custom ftpsd\)$/);
    await c.expectCmd('HELP SYST', 214, /^214 Syntax: SYST \(custom\)$/);
    c.close();
  });

  it('the TLS policy applies: only beforeTls commands work before AUTH', async () => {
    const c = await RawClient.connect(portOf(server));
    await c.expectCmd('DATE', 213, /^213 20260102030405$/);
    await c.expectCmd('TOUCH x', 530, /^530 TLS required/);
    c.close();
  });

  it('access: user needs a login (530)', async () => {
    const c = await RawClient.connect(portOf(server));
    await c.auth('TLS');
    await c.expectCmd('TOUCH x', 530, /^530 Please login with USER and PASS\.$/);
    expect(calls).toEqual([]);
    c.close();
  });

  it('the argument is checked (501), the path resolved against the current directory, the permission checked (550)', async () => {
    const c = await login();
    await c.expectCmd('DATE now', 501, /^501 DATE takes no argument\.$/);
    await c.expectCmd('TOUCH', 501, /^501 Syntax: TOUCH <sp> pathname$/);
    await c.expectCmd('CWD dir', 250);
    await c.expectCmd('TOUCH new.txt', 250, /^250 Touched \/dir\/new\.txt\.$/);
    await c.expectCmd('XTOUCH ../../top.txt', 250, /^250 Touched \/top\.txt\.$/);
    await c.expectCmd(`TOUCH ${'n'.repeat(300)}`, 553, /^553 File name not allowed\.$/);
    expect(calls).toEqual(['new.txt -> /dir/new.txt', '../../top.txt -> /top.txt']);
    c.close();
    const r = await login('reader', 'r');
    await r.expectCmd('TOUCH nope.txt', 550, /^550 Permission denied\.$/);
    expect(calls).toHaveLength(2);
    r.close();
  });

  it('errors map like the built-ins: FtpError as is, StorageError by cause, anything else 451', async () => {
    const c = await login();
    await c.expectCmd('FAILS ftp', 554, /^554 Chosen reply\.$/);
    await c.expectCmd('FAILS storage', 452, /^452 Insufficient storage space\.$/);
    await c.expectCmd('FAILS bug', 451, /^451 Local error in processing\.$/);
    await c.expectCmd('NOOP', 200);
    c.close();
  });

  it('available() hides a command per session: 502, not in HELP or FEAT', async () => {
    const alice = await login();
    await alice.expectCmd('SECRET', 200, /^200 Only alice knows\.$/);
    expect((await alice.expectCmd('FEAT', 211)).lines).toContain(' SECRET');
    alice.close();
    const reader = await login('reader', 'r');
    await reader.expectCmd('SECRET', 502, /^502 Command not implemented\.$/);
    expect((await reader.expectCmd('FEAT', 211)).lines).not.toContain(' SECRET');
    expect((await reader.expectCmd('HELP', 214)).text).not.toMatch(/SECRET/);
    await reader.expectCmd('HELP SECRET', 502);
    reader.close();
  });
});

describe('custom SITE subcommands', () => {
  let server: FtpsdServer;
  beforeAll(async () => {
    server = createServer({
      listen: '127.0.0.1:0',
      tlsRequired: 'off',
      users: [
        { name: 'alice', password: 'a' },
        { name: 'blind', password: 'b', permissions: ['list'] },
      ],
      storage: new MemoryStorage({ 'f.txt': 'hello' }),
      siteCommands: [SITE_WHO, SITE_SIZE, SITE_CHMOD],
    });
    await server.listen();
  });
  afterAll(() => server.close());

  it('show in SITE HELP; replace a built-in; get the argument, path and permission checks', async () => {
    const c = await RawClient.connect(portOf(server));
    await c.expectCmd('SITE WHO', 530);
    await c.login('alice', 'a');
    const help = await c.expectCmd('SITE HELP', 214);
    expect(help.lines).toEqual(['214-SITE commands:', ' SITE CHMOD (disabled)', ' SITE WHO', ' SITE DU <sp> pathname', ' SITE HELP', '214 End.']);
    await c.expectCmd('SITE who', 200, /^200 You are alice\.$/);
    await c.expectCmd('SITE WHO me', 501, /^501 SITE WHO takes no argument\.$/);
    await c.expectCmd('SITE DU', 501, /^501 Syntax: SITE DU <sp> pathname$/);
    await c.expectCmd('SITE DU f.txt', 200, /^200 \/f\.txt: 5 bytes$/);
    await c.expectCmd('SITE DU nothere', 550, /^550 No such file or directory\.$/);
    await c.expectCmd('SITE CHMOD 600 f.txt', 550, /^550 CHMOD is disabled here\.$/);
    c.close();
    const blind = await RawClient.connect(portOf(server));
    await blind.login('blind', 'b');
    await blind.expectCmd('SITE DU f.txt', 550, /^550 Permission denied\.$/);
    blind.close();
  });
});
