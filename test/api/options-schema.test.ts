/**
 * createServer's options against the config file: the same names, forms and checks (errors read the
 * same), every config option either understood or refused as the command's own, and the checks across
 * options (authenticator or users, storage or root, tls and tlsRequired, ...).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { parseConfigText } from '../../src/config/file.js';
import { loadConfig } from '../../src/config/load.js';
import { toServerOptions } from '../../src/config/server-options.js';
import { COMMAND_ONLY_OPTIONS, CONFIG_OPTIONS, PROGRAM_OPTIONS } from '../../src/embed/options.js';
import { FtpServer } from '../../src/server.js';
import { ConfigError, createServer, MemoryStorage, type Authenticator, type ServerOptions, type Storage } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { testCert } from '../helpers/server.js';
import { removeTempDirs, tempDir } from './helpers.js';

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
    [
      'passwords in program forms, checked by the extended schema',
      { tlsRequired: 'off', root: '/tmp', users: [{ name: 'a', password: { plain: '' } }, { name: 'b', password: { hash: 'x' } }, { name: 'c', password: 5 }, { name: 'd' }, { name: 'e', password: { plain: 'ok' } }] },
      [
        'users[0].password: must not be empty',
        'users[1].password: must be an argon2id hash (use: ftpsd hash-password)',
        'users[2].password: must be a password, an argon2id hash, {plain: PASSWORD} or {hash: HASH}',
        'users[3].password: is required',
      ],
    ],
    [
      'addresses and ranges in program forms, checked as their file forms',
      { tlsRequired: 'off', authenticator, listen: [{ host: '127.0.0.1', port: 70000 }], pasvPorts: { min: 10, max: 5 } },
      ['listen[0]: port must be <= 65535', 'pasvPorts: range start 10 is greater than its end 5'],
    ],
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
