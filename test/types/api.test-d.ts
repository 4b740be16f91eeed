/**
 * Type tests for the public API (`ftpsd`, `ftpsd/testing`), as a user's code sees it. vitest compiles
 * this file with tsc (typecheck mode); every `@ts-expect-error` must be an error, so a type that
 * becomes too loose fails here.
 */
import { describe, expectTypeOf, test } from 'vitest';
import {
  ConfigError,
  createServer,
  defineCommand,
  defineSiteCommand,
  FtpsdServer,
  LocalStorage,
  MemoryStorage,
  readOnly,
  readWrite,
  reply,
  StorageError,
  type Authenticator,
  type CommandContext,
  type CommandSpec,
  type LoggedInUser,
  type SessionContext,
  type FileStat,
  type ListeningAddresses,
  type LoginRefusal,
  type LoginRequest,
  type LoginResult,
  type Reply,
  type ServerEventMap,
  type ServerOptions,
  type Session,
  type SessionList,
  type Storage,
  type TransferInfo,
  type VirtualPath,
} from 'ftpsd';
import { errnoOf, storageContract, type StorageContractCase, type StorageFixture } from 'ftpsd/testing';

const authenticator: Authenticator = {
  async login({ user, password }) {
    return user === 'u' && password === 'p' ? { storage: new MemoryStorage(), permissions: readWrite } : null;
  },
};

describe('createServer', () => {
  test('takes ServerOptions, returns an FtpsdServer whose listen() and close() resolve', () => {
    expectTypeOf(createServer).parameter(0).toEqualTypeOf<ServerOptions>();
    expectTypeOf(createServer).returns.toEqualTypeOf<FtpsdServer>();
    expectTypeOf<FtpsdServer['listen']>().returns.resolves.toEqualTypeOf<ListeningAddresses>();
    expectTypeOf<ListeningAddresses['explicit'][number]['port']>().toBeNumber();
    expectTypeOf<FtpsdServer['close']>().returns.resolves.toBeVoid();
    expectTypeOf<FtpsdServer['sessions']>().toEqualTypeOf<SessionList>();
  });

  test('reconfigure() takes the live options in createServer forms; the rest needs a new server', () => {
    const server = createServer({ authenticator: { login: async () => null }, tlsRequired: 'off' });
    server.reconfigure({ greeting: 'hi', sessionReuse: 'allow', pasvPorts: '50000-50010', limits: { maxSessions: 10 } });
    server.reconfigure({ pasvPorts: { min: 50000, max: 50010 }, security: { ban: 'off' } });
    // @ts-expect-error listeners need a new server
    server.reconfigure({ listen: '127.0.0.1:2121' });
    // @ts-expect-error not a session reuse policy
    server.reconfigure({ sessionReuse: 'sometimes' });
    expectTypeOf<FtpsdServer['updateTls']>().parameter(0).toHaveProperty('cert');
  });

  test('the config file forms of the options', () => {
    createServer({
      listen: ['127.0.0.1:2121', { host: '::1', port: 0 }, 2121],
      implicitListen: 'off',
      root: './files',
      users: [
        { name: 'alice', password: 'plain secret' },
        { name: 'bob', password: { hash: '$argon2id$...' }, readOnly: true },
        { name: 'carol', password: { plain: 'x' }, permissions: ['list', 'read', 'write'], rules: [{ path: '/in', deny: ['read'] }], quota: { bytes: 1e9 } },
      ],
      anonymous: { home: 'pub' },
      tls: { certFile: 'cert.pem', keyFile: 'key.pem' },
      pasvPorts: { min: 50000, max: 50100 },
      tlsRequired: 'all',
      sessionReuse: 'allow',
      timeouts: { idleMs: 1000 },
      limits: { maxSessions: 10 },
      security: { ban: 'off', allow: ['10.0.0.0/8'] },
      uploads: { atomic: false, partial: 'keep' },
    });
    createServer({ tls: 'self-signed', authenticator, stateDir: './state' });
    createServer({ tls: { cert: Buffer.from(''), key: '' }, authenticator });
  });

  test('wrong options do not compile', () => {
    // @ts-expect-error a port is a number
    createServer({ listen: { host: '127.0.0.1', port: '2121' }, authenticator });
    // @ts-expect-error an unknown option
    createServer({ colour: 'red', authenticator });
    // @ts-expect-error tlsRequired is off, login or all
    createServer({ tlsRequired: 'maybe', authenticator });
    // @ts-expect-error tls needs a key with the certificate
    createServer({ tls: { cert: 'PEM' }, authenticator });
    // @ts-expect-error 'self-signed' is the only string form of tls
    createServer({ tls: 'auto', authenticator });
    // @ts-expect-error a permission name
    createServer({ root: '.', users: [{ name: 'a', password: 'b', permissions: ['fly'] }] });
    // @ts-expect-error storage is a Storage or a function returning one
    createServer({ root: '.', users: [], storage: 'memory' });
  });
});

describe('events', () => {
  test('each event has its typed payload', () => {
    const server = createServer({ tls: 'self-signed', authenticator });
    server.on('upload', (e) => {
      expectTypeOf(e.path).toBeString();
      expectTypeOf(e.bytes).toBeNumber();
      expectTypeOf(e.secure).toBeBoolean();
    });
    server.on('download', (e) => expectTypeOf(e).toEqualTypeOf<TransferInfo>());
    server.on('login', (e) => expectTypeOf(e.user).toBeString());
    server.on('login-failed', (e) => expectTypeOf(e.user).toBeString());
    server.on('delete', (e) => expectTypeOf(e.directory).toBeBoolean());
    server.on('rename', (e) => expectTypeOf(e.from).toBeString());
    server.on('mkdir', (e) => expectTypeOf(e.path).toBeString());
    server.on('connect', (e) => expectTypeOf(e.remoteAddress).toBeString());
    server.on('disconnect', (e) => expectTypeOf(e.id).toBeString());
    server.on('error', (e) => expectTypeOf(e.sessionId).toEqualTypeOf<string | undefined>());
    // The events of issue 6 are all in the map (which also has the operations events: command, ...).
    type Issue6Events = 'connect' | 'login' | 'login-failed' | 'upload' | 'download' | 'delete' | 'rename' | 'mkdir' | 'disconnect' | 'error';
    expectTypeOf<Issue6Events>().toMatchTypeOf<keyof ServerEventMap>();
    // @ts-expect-error no such event
    server.on('uploaded', () => {});
    // @ts-expect-error the payload of upload has a string path
    server.on('upload', (e: { path: number }) => e);
  });
});

describe('sessions', () => {
  test('a read-only view with disconnect()', () => {
    const session = {} as Session;
    expectTypeOf(session.id).toBeString();
    expectTypeOf(session.user).toEqualTypeOf<string | undefined>();
    expectTypeOf(session.dataProtection).toEqualTypeOf<'clear' | 'private'>();
    expectTypeOf(session.connectedAt).toEqualTypeOf<Date>();
    expectTypeOf(session.bytes).toEqualTypeOf<{ readonly sent: number; readonly received: number }>();
    expectTypeOf(session.disconnect).toEqualTypeOf<(reason?: string) => Promise<void>>();
    // @ts-expect-error read-only
    session.user = 'mallory';
    // @ts-expect-error the internal connection is not part of the view
    void session.socket;
  });
});

describe('Authenticator and Storage', () => {
  test('an authenticator is one async method', () => {
    expectTypeOf<Authenticator['login']>().parameter(0).toEqualTypeOf<LoginRequest>();
    expectTypeOf<Authenticator['login']>().returns.resolves.toEqualTypeOf<LoginResult | LoginRefusal | null>();
    const viaReadOnly: Authenticator = { login: async () => ({ storage: new MemoryStorage(), permissions: readOnly }) };
    void viaReadOnly;
    // @ts-expect-error login is async
    const sync: Authenticator = { login: () => null };
    // @ts-expect-error a login result needs storage and permissions
    const noStorage: Authenticator = { login: async () => ({ permissions: readOnly }) };
    void sync;
    void noStorage;
  });

  test('Storage: required methods, optional capabilities', () => {
    expectTypeOf<MemoryStorage>().toMatchTypeOf<Storage>();
    expectTypeOf<LocalStorage>().toMatchTypeOf<Storage>();
    expectTypeOf<Storage['stat']>().returns.resolves.toEqualTypeOf<FileStat>();
    expectTypeOf<Storage['list']>().returns.toEqualTypeOf<AsyncIterable<FileStat>>();
    expectTypeOf<NonNullable<Storage['symlink']>>().toEqualTypeOf<(target: VirtualPath, link: VirtualPath) => Promise<void>>();
    expectTypeOf<NonNullable<Storage['freeSpace']>>().returns.resolves.toBeNumber();
    expectTypeOf<NonNullable<Storage['checksum']>>().returns.resolves.toBeString();
    // @ts-expect-error stat, list, read, write, ... are required
    const partial: Storage = { stat: async () => ({ name: 'x', type: 'file', size: 0, mtime: new Date() }) };
    void partial;
    expectTypeOf(new StorageError('ENOENT').errno).toBeString();
  });
});

describe('commands', () => {
  test('defineCommand and defineSiteCommand take the built-ins metadata', () => {
    const who = defineCommand({
      name: 'WHO',
      arg: 'none',
      access: 'user',
      help: 'WHO',
      handle: (ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<CommandContext>();
        return reply(200, ctx.user.name);
      },
    });
    createServer({ tls: 'self-signed', authenticator, commands: [who], siteCommands: [defineSiteCommand({ name: 'X', help: 'SITE X', handle: () => reply(200, 'x') })] });
    expectTypeOf(reply).returns.toEqualTypeOf<Reply>();
    // @ts-expect-error arg is none, optional or required
    defineCommand({ name: 'A', arg: 'maybe', access: 'user', help: 'A', handle: () => reply(200, 'a') });
    // @ts-expect-error perm is a Permission
    defineCommand({ name: 'B', arg: 'required', access: 'user', path: 'arg', perm: 'fly', help: 'B', handle: () => reply(200, 'b') });
    // @ts-expect-error help is required
    defineSiteCommand({ name: 'Y', handle: () => reply(200, 'y') });
  });

  test('only a command that needs a login sees a user and a storage', () => {
    defineCommand({
      name: 'PUB',
      arg: 'none',
      access: 'public',
      help: 'PUB',
      handle: (ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<SessionContext>();
        expectTypeOf(ctx.session.user).toEqualTypeOf<LoggedInUser | undefined>();
        // @ts-expect-error before login there is no storage: a public command has none
        void ctx.storage;
        // @ts-expect-error nor a user (read `session.user`)
        return reply(200, ctx.user.name);
      },
    });
    defineCommand({ name: 'USR', arg: 'none', access: 'user', help: 'USR', handle: (ctx) => reply(200, `${ctx.user.name} ${typeof ctx.storage.stat}`) });
    // Capability tests and FEAT lines run before login too: they get the session's context.
    expectTypeOf<NonNullable<CommandSpec['available']>>().parameter(0).toEqualTypeOf<SessionContext>();
  });
});

describe('ftpsd/testing', () => {
  test('the storage contract is a list of named cases', () => {
    expectTypeOf(storageContract).parameter(0).toEqualTypeOf<() => Promise<StorageFixture>>();
    expectTypeOf(storageContract).returns.toEqualTypeOf<StorageContractCase[]>();
    expectTypeOf<StorageContractCase['run']>().returns.resolves.toBeVoid();
    expectTypeOf(errnoOf).returns.toEqualTypeOf<string | undefined>();
    expectTypeOf<ConfigError['issues'][number]['field']>().toBeString();
  });
});
