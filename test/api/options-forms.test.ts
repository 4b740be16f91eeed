/**
 * createServer's options in the forms only a program can write (objects for addresses and ranges, PEM
 * text and Buffers, plain passwords), the program-only options (storage, logger), and the server's
 * lifecycle (listen, close).
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, createServer, hashPassword, MemoryStorage, readWrite, type Authenticator, type Storage } from '../../src/index.js';
import { testCert } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { connect, portOf, removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

const authenticator: Authenticator = { login: async () => null };

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

  it('uploads: requireCloseNotify reaches the protocol (default true), atomic and partial the storage', async () => {
    const root = await tempDir();
    const strict = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', root, users: [{ name: 'u', password: 'p' }] });
    const relaxed = createServer({ listen: '127.0.0.1:0', tlsRequired: 'off', root, users: [{ name: 'u', password: 'p' }], uploads: { requireCloseNotify: false, partial: 'keep' } });
    await strict.listen();
    await relaxed.listen();
    expect(strict.core?.settings.uploads.requireCloseNotify).toBe(true);
    expect(relaxed.core?.settings.uploads.requireCloseNotify).toBe(false);
    await strict.close();
    await relaxed.close();
    expect(() => createServer({ listen: '127.0.0.1:0', uploads: { requireCloseNotify: 'no' as unknown as boolean } })).toThrow(/uploads\.requireCloseNotify: must be true or false/);
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
