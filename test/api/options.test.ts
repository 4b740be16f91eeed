/**
 * createServer's options: the config file's names, forms and checks (errors read the same), the forms
 * only a program can write (objects for addresses and ranges, PEM text, plain passwords), the checks
 * across options, and the program-only options (storage, logger).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/file.js';
import { loadConfig } from '../../src/config/load.js';
import { toServerOptions } from '../../src/config/server-options.js';
import { COMMAND_ONLY_OPTIONS, CONFIG_OPTIONS, PROGRAM_OPTIONS } from '../../src/embed/options.js';
import { ConfigError, createServer, FtpServer, hashPassword, MemoryStorage, readWrite, type Authenticator, type ServerOptions, type Storage } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { testCert } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { connect, portOf, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const authenticator: Authenticator = { login: async () => null };

function configError(action: () => unknown): ConfigError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function fileErrors(yaml: string): string[] {
  try {
    parseConfigText(yaml);
  } catch (err) {
    return (err as ConfigError).lines();
  }
  return [];
}

describe('createServer options: the config file schema', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['a port out of range', 'listen: ["127.0.0.1:70000", "[::1]:2121"]', { listen: ['127.0.0.1:70000', '[::1]:2121'] }],
    ['a bad host', 'implicitListen: "no such host:1"', { implicitListen: 'no such host:1' }],
    ['a bad passive range', 'pasvPorts: 0-10', { pasvPorts: '0-10' }],
    ['an unknown value', 'sessionReuse: sometimes', { sessionReuse: 'sometimes' }],
    ['a limit too small', 'limits: {maxLineBytes: 10}', { limits: { maxLineBytes: 10 } }],
    ['an unknown option', 'colour: blue', { colour: 'blue' }],
    ['an unknown nested option', 'timeouts: {idleMs: 5, naps: 1}', { timeouts: { idleMs: 5, naps: 1 } }],
    ['a bad network', 'security: {allow: ["300.0.0.0/8"]}', { security: { allow: ['300.0.0.0/8'] } }],
    ['a bad user name and permission', 'users: [{name: "a b", password: "$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4", permissions: [fly]}]', { users: [{ name: 'a b', password: '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4', permissions: ['fly'] }] }],
    ['a malformed hash', 'users: [{name: a, password: "$argon2id$nope"}]', { users: [{ name: 'a', password: '$argon2id$nope' }] }],
    ['duplicate users', 'users: [{name: a, password: "$argon2id$v=19$m=1,t=1,p=1$YQ$YQ"}, {name: a, password: "$argon2id$v=19$m=1,t=1,p=1$YQ$YQ"}]', { users: [{ name: 'a', password: 'x' }, { name: 'a', password: 'y' }] }],
  ];
  for (const [what, yaml, options] of cases) {
    it(`${what}: the same ConfigError lines as the config file`, () => {
      const expected = fileErrors(yaml);
      expect(expected.length).toBeGreaterThan(0);
      const err = configError(() => createServer({ tlsRequired: 'off', authenticator, ...options } as ServerOptions));
      expect(err.lines()).toEqual(expected);
      expect(err.message).toBe(expected[0] + (expected.length > 1 ? ` (and ${expected.length - 1} more)` : ''));
    });
  }

  it('every config file option is understood by createServer or belongs to the command', () => {
    const known = new Set<string>([...CONFIG_OPTIONS, ...COMMAND_ONLY_OPTIONS]);
    const schemaKeys = Object.keys(configSchema.shape);
    expect(schemaKeys.filter((k) => !known.has(k)), 'config options createServer does not know').toEqual([]);
    expect([...known].filter((k) => !schemaKeys.includes(k)), 'options no longer in the config file').toEqual([]);
    expect(PROGRAM_OPTIONS.filter((k) => schemaKeys.includes(k)), 'program options that clash with config options').toEqual([]);
  });

  it('options of the command itself are refused with a reason', () => {
    const err = configError(() => createServer({ tlsRequired: 'off', authenticator, watchConfig: true } as ServerOptions));
    expect(err.lines()).toEqual(['watchConfig: is an option of the ftpsd command (a process with a config file), not of createServer']);
  });

  it('the protocol settings come out as the command makes them from the same config', async () => {
    const dir = await tempDir();
    const yaml = [
      'listen: ["127.0.0.1:0"]',
      'implicitListen: off',
      'root: root',
      'users: [{name: alice, password: "$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4"}]',
      'pasvPorts: 50000-50100',
      'pasvAddress: 203.0.113.10',
      'tlsRequired: all',
      'sessionReuse: allow',
      'timeouts: {idleMs: 1234, loginMs: 2345}',
      'limits: {maxSessions: 7, loginFailureDelayMs: 0}',
      'security: {ban: {failures: 3}, allow: ["127.0.0.0/8"], deny: ["10.0.0.0/8"]}',
      'stateDir: state',
    ].join('\n');
    await writeFile(join(dir, 'ftpsd.yaml'), yaml);
    const fromCommand = new FtpServer((await toServerOptions(await loadConfig({ config: join(dir, 'ftpsd.yaml') }, { env: {}, cwd: dir }), silentLogger)).options);
    const server = createServer({
      listen: ['127.0.0.1:0'],
      implicitListen: 'off',
      root: join(dir, 'root'),
      users: [{ name: 'alice', password: 'x' }],
      pasvPorts: { min: 50000, max: 50100 },
      pasvAddress: '203.0.113.10',
      tlsRequired: 'all',
      sessionReuse: 'allow',
      timeouts: { idleMs: 1234, loginMs: 2345 },
      limits: { maxSessions: 7, loginFailureDelayMs: 0 },
      security: { ban: { failures: 3 }, allow: '127.0.0.0/8', deny: ['10.0.0.0/8'] },
      tls: 'self-signed',
    });
    try {
      await server.listen();
      expect(JSON.stringify(server.core!.settings)).toBe(JSON.stringify(fromCommand.settings));
    } finally {
      await server.close();
      await fromCommand.close();
    }
  });
});

describe('createServer options: checks across options', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['no way to log in', { tlsRequired: 'off' }, ['users: nobody can log in: give users, anonymous or an authenticator']],
    [
      'no certificate under the default TLS policy',
      { authenticator },
      ["tls: is required with tlsRequired: login (the default): give 'self-signed', {cert, key} or {certFile, keyFile}, or set tlsRequired: 'off'"],
    ],
    ['implicit FTPS without a certificate', { authenticator, tlsRequired: 'off', implicitListen: '127.0.0.1:0' }, ['implicitListen: needs tls (implicit FTPS starts with TLS)']],
    ['users without root', { tlsRequired: 'off', users: [{ name: 'a', password: 'b' }] }, ['root: is required: the directory to serve (or give storage)']],
    [
      'an authenticator with users',
      { tlsRequired: 'off', authenticator, root: '/tmp', users: [{ name: 'a', password: 'b' }] },
      ['authenticator: give either authenticator, or users/anonymous (the built-in authenticator), not both'],
    ],
    ['storage with an authenticator', { tlsRequired: 'off', authenticator, storage: new MemoryStorage() }, ["storage: is not used with authenticator: return each user's storage from its login()"]],
    [
      'storage with root and a home',
      { tlsRequired: 'off', root: '/tmp', storage: new MemoryStorage(), users: [{ name: 'a', password: 'b', home: 'a' }] },
      ['storage: give either root or storage, not both', 'users[0].home: is not used with storage (storage decides what each user sees)'],
    ],
    ['an empty password', { tlsRequired: 'off', root: '/tmp', users: [{ name: 'a', password: '' }] }, ['users[0].password: must not be empty']],
    ['no listener at all', { tlsRequired: 'off', authenticator, listen: 'off' }, ['listen: no listener left: give at least one address in listen or implicitListen']],
    [
      'program options of the wrong shape',
      { tlsRequired: 'off', authenticator: {}, storage: {}, commands: [{ name: 'lower', help: 'x', handle: () => undefined }], logger: console.log },
      [
        'authenticator: must be an object with a login(request) method',
        'storage: must be a Storage (stat, list, read, write, mkdir, rmdir, remove, rename) or a function of the user name that returns one',
        'commands[0].name: must be an upper-case verb (A-Z, 0-9, -; at most 16 characters)',
        'logger: must be a pino logger (or have its info, warn, error, debug, child methods)',
      ],
    ],
    ['tls of the wrong form', { authenticator, tls: 'auto' }, ["tls: must be 'self-signed', {cert, key} (PEM text) or {certFile, keyFile} (file paths)"]],
    ['tls half given', { authenticator, tls: { cert: 'PEM', certFile: 'x' } }, ['tls: give either {cert, key} (PEM text) or {certFile, keyFile} (file paths), not both']],
    ['tls without a key', { authenticator, tls: { certFile: 'cert.pem' } }, ['tls.keyFile: is required']],
    ['tls that is not PEM', { authenticator, tls: { cert: 'not pem', key: 'nor this' } }, ['tls.cert: not a PEM certificate']],
  ];
  for (const [what, options, lines] of cases) {
    it(`${what}: a ConfigError naming the field`, () => {
      expect(configError(() => createServer(options as ServerOptions)).lines()).toEqual(lines);
    });
  }

  it('a key that does not belong to the certificate', async () => {
    const a = await testCert();
    const { generateSelfSigned } = await import('../../src/tls/self-signed.js');
    const b = await generateSelfSigned();
    expect(configError(() => createServer({ authenticator, tls: { cert: a.cert, key: b.key } })).lines()).toEqual(['tls.key: does not belong to the certificate']);
  });
});

describe('createServer options: forms, certificates, accounts', () => {
  it('plain passwords, argon2id hashes and {hash}/{plain} log in; addresses as objects and numbers', async () => {
    const root = await tempDir();
    const hash = await hashPassword('hashed secret');
    const server = createServer({
      listen: [{ host: '127.0.0.1', port: 0 }, '127.0.0.1:0'],
      root,
      users: [
        { name: 'plain', password: 'plain secret' },
        { name: 'hashed', password: hash },
        { name: 'explicit', password: { plain: '$argon2id$ is my password' } },
        { name: 'explicit-hash', password: { hash } },
      ],
      tls: 'self-signed',
      limits: { loginFailureDelayMs: 0 },
    });
    const { explicit, implicit } = await server.listen();
    try {
      expect(explicit).toHaveLength(2);
      expect(implicit).toEqual([]);
      expect(explicit.every((a) => a.address === '127.0.0.1' && a.port > 0)).toBe(true);
      for (const [user, password] of [
        ['plain', 'plain secret'],
        ['hashed', 'hashed secret'],
        ['explicit', '$argon2id$ is my password'],
        ['explicit-hash', 'hashed secret'],
      ] as const) {
        const client = await connect(server, user, password, { port: explicit[1]!.port });
        expect(await client.pwd()).toBe('/');
        client.close();
      }
      await expect(connect(server, 'plain', 'wrong')).rejects.toThrow(/530/);
    } finally {
      await server.close();
    }
  });

  it('root and homes are created if missing, homes relative to root; anonymous is read-only', async () => {
    const dir = await tempDir();
    const root = join(dir, 'served');
    const server = createServer({
      listen: '127.0.0.1:0',
      root,
      users: [{ name: 'alice', password: 'a', home: 'alice' }],
      anonymous: { home: 'pub' },
      tlsRequired: 'off',
    });
    await server.listen();
    try {
      expect(existsSync(join(root, 'alice'))).toBe(true);
      expect(existsSync(join(root, 'pub'))).toBe(true);
      const alice = await connect(server, 'alice', 'a', { secure: false });
      await alice.uploadFrom(Readable.from([Buffer.from('hi')]), 'hi.txt');
      expect(await readFile(join(root, 'alice', 'hi.txt'), 'utf8')).toBe('hi');
      alice.close();
      await writeFile(join(root, 'pub', 'readme'), 'public');
      const anon = await connect(server, 'anonymous', 'guest@', { secure: false });
      expect((await anon.list()).map((f) => f.name)).toEqual(['readme']);
      await expect(anon.uploadFrom(Readable.from([Buffer.from('x')]), 'x')).rejects.toThrow(/550/);
      anon.close();
    } finally {
      await server.close();
    }
  });

  it('tls as PEM strings, Buffers, files, and self-signed (kept in stateDir when given)', async () => {
    const cert = await testCert();
    const dir = await tempDir();
    await writeFile(join(dir, 'cert.pem'), cert.cert);
    await writeFile(join(dir, 'key.pem'), cert.key);
    const storage = new MemoryStorage();
    const login: Authenticator = { login: async ({ user }) => (user === 'u' ? { storage, permissions: readWrite } : null) };
    const fingerprints: string[] = [];
    for (const tls of [
      { cert: cert.cert, key: cert.key },
      { cert: Buffer.from(cert.cert), key: Buffer.from(cert.key) },
      { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
      'self-signed' as const,
      'self-signed' as const,
    ]) {
      const server = createServer({ listen: '127.0.0.1:0', authenticator: login, tls, ...(tls === 'self-signed' ? { stateDir: join(dir, 'state') } : {}) });
      await server.listen();
      try {
        const client = await connect(server, 'u', 'x');
        const peer = (client.ftp.socket as import('node:tls').TLSSocket).getPeerX509Certificate();
        expect(peer?.fingerprint256).toBe(server.certificate?.fingerprint256);
        fingerprints.push(server.certificate!.fingerprint256);
        client.close();
      } finally {
        await server.close();
      }
    }
    expect(fingerprints.slice(0, 3)).toEqual([cert.fingerprint256, cert.fingerprint256, cert.fingerprint256]);
    expect(fingerprints[3]).not.toBe(cert.fingerprint256);
    expect(fingerprints[4], 'the second start reuses the kept certificate').toBe(fingerprints[3]);
    expect(existsSync(join(dir, 'state', 'cert.pem'))).toBe(true);
  });

  it('a certificate file that cannot be read: listen() rejects with a ConfigError naming it', async () => {
    const server = createServer({ listen: '127.0.0.1:0', authenticator, tls: { certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' } });
    const err = await server.listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).lines()).toEqual(['tls.certFile: cannot read /nonexistent/cert.pem: no such file']);
    await server.close();
  });

  it('pasvPorts as {min, max}: passive ports come from the range', async () => {
    const probe = createNetServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const free = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', storage: new MemoryStorage(), users: [{ name: 'u', password: 'p' }], pasvPorts: { min: free, max: free } });
    await server.listen();
    try {
      const c = await RawClient.connect(portOf(server));
      await c.login('u', 'p');
      await c.expectCmd('EPSV', 229, new RegExp(`\\(\\|\\|\\|${free}\\|\\)`));
      c.close();
    } finally {
      await server.close();
    }
  });

  it('storage: one Storage for everyone, or a function called once per account', async () => {
    const shared = new MemoryStorage({ 'shared.txt': 'everyone' });
    const one = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', storage: shared, users: [{ name: 'a', password: 'a' }, { name: 'b', password: 'b' }] });
    await one.listen();
    try {
      for (const user of ['a', 'b']) {
        const client = await connect(one, user, user, { secure: false });
        expect((await client.list()).map((f) => f.name)).toEqual(['shared.txt']);
        client.close();
      }
    } finally {
      await one.close();
    }

    const calls: string[] = [];
    const perUser = createServer({
      listen: '127.0.0.1:0',
      tlsRequired: 'off',
      users: [{ name: 'a', password: 'a' }, { name: 'b', password: 'b', readOnly: true }],
      anonymous: true,
      storage: async (user): Promise<Storage> => {
        calls.push(user);
        return new MemoryStorage({ [`${user}.txt`]: user });
      },
    });
    await perUser.listen();
    try {
      expect(calls.sort()).toEqual(['a', 'anonymous', 'b']);
      for (const [user, password] of [['a', 'a'], ['b', 'b'], ['ftp', 'x']] as const) {
        const client = await connect(perUser, user, password, { secure: false });
        expect((await client.list()).map((f) => f.name)).toEqual([`${user === 'ftp' ? 'anonymous' : user}.txt`]);
        client.close();
      }
      const b = await connect(perUser, 'b', 'b', { secure: false });
      await expect(b.uploadFrom(Readable.from([Buffer.from('x')]), 'x')).rejects.toThrow(/550/);
      b.close();
    } finally {
      await perUser.close();
    }
  });

  it('a storage function that returns no Storage: listen() rejects naming the account', async () => {
    const server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', users: [{ name: 'a', password: 'a' }], storage: (() => ({})) as never });
    const err = await server.listen().catch((e: unknown) => e);
    expect((err as ConfigError).lines()).toEqual(['users[0]: storage returned no Storage for "a"']);
    await server.close();
  });

  it('logger gets the log lines (never a password)', async () => {
    const lines: { msg: string | undefined; obj: object }[] = [];
    const logger = {
      trace: () => {},
      debug: () => {},
      info: (obj: object, msg?: string) => lines.push({ obj, msg }),
      warn: (obj: object, msg?: string) => lines.push({ obj, msg }),
      error: (obj: object, msg?: string) => lines.push({ obj, msg }),
      child() {
        return logger;
      },
    };
    const server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', storage: new MemoryStorage(), users: [{ name: 'u', password: 'p' }], logger });
    await server.listen();
    try {
      const client = await connect(server, 'u', 'p', { secure: false });
      client.close();
      expect(lines.map((l) => l.msg)).toContain('login');
      expect(JSON.stringify(lines)).not.toContain('"p"');
    } finally {
      await server.close();
    }
  });

  it('the operations options work as in the config file (xferlog)', async () => {
    const dir = await tempDir();
    const server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', storage: new MemoryStorage(), users: [{ name: 'u', password: 'p' }], xferlog: join(dir, 'xferlog') });
    await server.listen();
    const client = await connect(server, 'u', 'p', { secure: false });
    await client.uploadFrom(Readable.from([Buffer.from('logged')]), 'logged.txt');
    client.close();
    await server.close();
    const log = await readFile(join(dir, 'xferlog'), 'utf8');
    expect(log).toMatch(/ 127\.0\.0\.1 6 \/logged\.txt b _ i r u ftp 0 \* c\n$/);
  });
});

describe('FtpsdServer lifecycle', () => {
  it('listen() twice gives the same promise; close() before listen() and twice is fine; listen() after close() rejects', async () => {
    const server = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', authenticator });
    await server.close();
    await expect(server.listen()).rejects.toThrow(/closed/);
    const again = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', authenticator });
    const a = again.listen();
    expect(again.listen()).toBe(a);
    await a;
    await Promise.all([again.close(), again.close()]);
  });

  it('a port in use: listen() rejects with EADDRINUSE and nothing stays open', async () => {
    const first = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', authenticator });
    const { explicit } = await first.listen();
    const second = createServer({ listen: ['127.0.0.1:0', `127.0.0.1:${explicit[0]!.port}`], tlsRequired: 'off', authenticator });
    await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await second.close();
    await first.close();
  });
});
