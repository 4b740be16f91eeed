/**
 * LDAP logins against a real OpenLDAP slapd (test/helpers/slapd.ts) on loopback: search and bind,
 * homes, groups (groupOfNames member and memberOf), quota attribute, config users beside LDAP, filter
 * injection, empty passwords, long names, bans, the directory stopped mid-run and restarted, the cache,
 * and StartTLS/ldaps with certificates made by openssl. Clients: basic-ftp, curl and a raw client.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Client } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticatorChain } from '../../src/auth/chain.js';
import { DirectoryAccounts } from '../../src/auth/directory-account.js';
import { LdapAuthenticator, type LdapOptions } from '../../src/auth/ldap.js';
import { escapeFilterValue, userFilter } from '../../src/auth/ldap-filter.js';
import { UserAuthenticator } from '../../src/auth/users.js';
import { isAuthUnavailable } from '../../src/auth/authenticator.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { freePort, hasSlapd, READER_DN, READER_PASSWORD, startSlapd, SUFFIX, type Slapd } from '../helpers/slapd.js';
import { removeTempDirs, tempDir } from '../helpers/temp-dirs.js';
import { curl, lftp } from './clients.js';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { BANNED, clientFrom, receiveAll } from '../hardening/abuse-helpers.js';

const PEOPLE = `ou=people,${SUFFIX}`;
const GROUPS = `ou=groups,${SUFFIX}`;
const FTP_USERS = `cn=ftp-users,${GROUPS}`;
const READERS = `cn=readers,${GROUPS}`;

let uidNumber = 2000;
function person(uid: string, password: string, extra: string[] = []): string {
  // homeDirectory comes with posixAccount (nis schema).
  const posix = extra.some((l) => l.startsWith('homeDirectory:')) ? ['objectClass: posixAccount', `uidNumber: ${++uidNumber}`, 'gidNumber: 2000'] : [];
  return [`dn: uid=${uid},${PEOPLE}`, 'objectClass: inetOrgPerson', ...posix, `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`, `userPassword: ${password}`, ...extra, ''].join('\n');
}

const LDIF = [
  [`dn: ${PEOPLE}`, 'objectClass: organizationalUnit', 'ou: people', ''].join('\n'),
  [`dn: ${GROUPS}`, 'objectClass: organizationalUnit', 'ou: groups', ''].join('\n'),
  person('alice', 'wonderland', ['homeDirectory: /home/alice']),
  // bob is a reader by his memberOf only (the group entry does not list him).
  person('bob', 'builder', ['homeDirectory: bob', `memberOf: ${READERS}`]),
  person('carol', 'quota-pw', ['homeDirectory: carol', 'employeeNumber: 10']),
  person('dave', 'no-group', ['homeDirectory: dave']),
  person('frank', 'ldap-frank', ['homeDirectory: frank']),
  person('mallory', 'escape', ['homeDirectory: ../../etc']),
  person('nohome', 'nohome-pw'),
  [`dn: ${FTP_USERS}`, 'objectClass: groupOfNames', 'cn: ftp-users', `member: uid=alice,${PEOPLE}`, `member: uid=carol,${PEOPLE}`, ''].join('\n'),
  [`dn: ${READERS}`, 'objectClass: groupOfNames', 'cn: readers', `member: ${READER_DN}`, ''].join('\n'),
].join('\n');

const LOGIN_UNAVAILABLE = /^421 Login service unavailable, try again later\.$/;

async function ftps(t: TestServer, user: string, password: string): Promise<Client> {
  const client = new Client(15_000);
  try {
    await client.access({ host: '127.0.0.1', port: t.port, user, password, secure: true, secureOptions: { rejectUnauthorized: false } });
  } catch (err) {
    client.close();
    throw err;
  }
  return client;
}

let nextAddress = 0;
/**
 * The reply to USER name / PASS password on a fresh clear connection from `from` (default: an address of
 * its own, so failures of one test do not ban another's).
 */
async function passReply(t: TestServer, name: string, password: string, from = `127.0.30.${++nextAddress}`): Promise<{ code: number; text: string }> {
  const c = await clientFrom(t.port, from);
  try {
    await c.expectCmd(`USER ${name}`, 331);
    c.send(password === '' ? 'PASS' : `PASS ${password}`);
    const r = await c.reply();
    return { code: r.code, text: r.text };
  } finally {
    c.close();
  }
}

describe.skipIf(!hasSlapd())('LDAP logins (OpenLDAP slapd on loopback)', () => {
  let slapd: Slapd;
  let root: string;
  let log: CapturedLog;
  let t: TestServer;
  let chain: AuthenticatorChain;

  function ldapOptions(extra: Partial<LdapOptions> = {}): LdapOptions {
    return {
      url: slapd.url,
      base: PEOPLE,
      bindDn: READER_DN,
      bindPassword: READER_PASSWORD,
      quotaAttribute: 'employeeNumber',
      groups: [{ dn: FTP_USERS }, { dn: READERS, readOnly: true }],
      timeoutMs: 2000,
      ...extra,
    };
  }

  beforeAll(async () => {
    slapd = await startSlapd(LDIF);
    root = await tempDir();
    log = captureLog('info');
    const users = new UserAuthenticator([{ name: 'frank', password: { plain: 'config-frank' }, home: join(root, 'frank-config') }]);
    await mkdir(join(root, 'frank-config'));
    const ldap = new LdapAuthenticator(ldapOptions(), new DirectoryAccounts(root, users.homes), log.logger);
    chain = new AuthenticatorChain(users, [ldap], log.logger);
    await chain.checkShadowed();
    t = await startServer({ authenticator: chain, logger: log.logger, security: { ban: { failures: 3 } } });
  }, 30_000);

  afterAll(async () => {
    await t?.close();
    chain?.close();
    await slapd?.stop();
    await removeTempDirs();
  });

  it('alice (in ftp-users) logs in with basic-ftp over FTPS; her home is ROOT/home/alice, made at login', async () => {
    const alice = await ftps(t, 'alice', 'wonderland');
    try {
      await alice.uploadFrom(Readable.from(['hello from alice\n']), 'hello.txt');
      expect(await readFile(join(root, 'home/alice/hello.txt'), 'utf8')).toBe('hello from alice\n');
    } finally {
      alice.close();
    }
  });

  it('bob (a reader by memberOf) downloads with curl and may not upload', async () => {
    await mkdir(join(root, 'bob'), { recursive: true });
    await writeFile(join(root, 'bob/readme.txt'), 'read me\n');
    const url = `ftp://127.0.0.1:${t.port}`;
    const get = await curl(['--ssl-reqd', '--insecure', '--user', 'bob:builder', `${url}/readme.txt`]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toBe('read me\n');
    const dir = await tempDir();
    await writeFile(join(dir, 'up.txt'), 'nope');
    const put = await curl(['--ssl-reqd', '--insecure', '--user', 'bob:builder', '-T', join(dir, 'up.txt'), `${url}/up.txt`]);
    expect(put.code).not.toBe(0);
    expect(put.stderr).toMatch(/550|denied|upload/i);
    expect(existsSync(join(root, 'bob/up.txt'))).toBe(false);
  });

  it('a quota from the quota attribute: carol (10 bytes) cannot store 100', async () => {
    const carol = await ftps(t, 'carol', 'quota-pw');
    try {
      await expect(carol.uploadFrom(Readable.from([Buffer.alloc(100, 1)]), 'big.bin')).rejects.toThrow(/552/);
    } finally {
      carol.close();
    }
  });

  it('wrong and empty passwords are 530', async () => {
    expect(await passReply(t, 'alice', 'wrong')).toEqual({ code: 530, text: '530 Login incorrect.' });
    expect((await passReply(t, 'alice', '')).code).toBe(530);
    expect((await passReply(t, 'nosuchuser', 'x')).code).toBe(530);
  });

  it('filter injection cannot widen the search: *, )(uid=*, \\ and friends are 530 with a right password', async () => {
    for (const name of ['*', 'al*', ')(uid=*', 'alice)(uid=*', '*)(|(uid=*', 'alice)(|(uid=*)', '\\', 'alice\\', '(uid=alice)']) {
      expect((await passReply(t, name, 'wonderland')).code, name).toBe(530);
    }
    expect(escapeFilterValue('a*b(c)d\\e\0f')).toBe('a\\2ab\\28c\\29d\\5ce\\00f');
    expect(userFilter('(&(objectClass=person)(uid={name}))', ')(uid=*')).toBe('(&(objectClass=person)(uid=\\29\\28uid=\\2a))');
  });

  it('a name with NUL or longer than 256 characters never logs in', async () => {
    const ldap = new LdapAuthenticator(ldapOptions(), new DirectoryAccounts(root, chain.users.homes), log.logger);
    try {
      const req = { password: 'wonderland', remoteAddress: '127.0.0.1', secure: true };
      expect(await ldap.login({ ...req, user: 'alice\0' })).toBeNull();
      expect(await ldap.login({ ...req, user: '\0' })).toBeNull();
      expect(await ldap.login({ ...req, user: 'a'.repeat(300) })).toBeNull();
      expect(await ldap.login({ ...req, user: 'alice' })).not.toBeNull();
    } finally {
      ldap.close();
    }
    expect((await passReply(t, 'a'.repeat(1000), 'x')).code).toBe(530);
  });

  it('logins at once share a bounded pool: 12 parallel logins over at most 2 connections all get their answer', async () => {
    const ldap = new LdapAuthenticator(ldapOptions({ maxOpen: 2 }), new DirectoryAccounts(root, chain.users.homes), log.logger);
    const req = { remoteAddress: '127.0.0.1', secure: true };
    try {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => ldap.login({ ...req, user: i % 2 === 0 ? 'alice' : 'dave', password: i % 3 === 0 ? 'wrong' : i % 2 === 0 ? 'wonderland' : 'no-group' })),
      );
      expect(results.map((r) => r !== null)).toEqual(Array.from({ length: 12 }, (_, i) => i % 3 !== 0));
    } finally {
      ldap.close();
    }
  });

  it('lftp logs alice in over FTPS', async () => {
    const r = await lftp(`open -u alice,wonderland -p ${t.port} 127.0.0.1; set ftp:ssl-force yes; cls -1 /`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('hello.txt');
  });

  it('a directory that accepts connections and never answers: unavailable within the timeouts, not a hang', async () => {
    const held: Socket[] = [];
    const silent = createNetServer((s) => held.push(s.on('error', () => {})));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const url = `ldap://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const ldap = new LdapAuthenticator(ldapOptions({ url, timeoutMs: 300 }), new DirectoryAccounts(root, chain.users.homes), log.logger);
    try {
      // The test's own timeout catches a hang; no timing is measured here.
      await expect(ldap.login({ user: 'alice', password: 'wonderland', remoteAddress: '127.0.0.1', secure: true })).rejects.toSatisfy(isAuthUnavailable);
    } finally {
      ldap.close();
      for (const s of held) s.destroy();
      silent.close();
    }
  });

  it('an empty password is refused before any bind: no directory is asked', async () => {
    // A directory that is not there: a password makes it unavailable, an empty one is refused at once.
    const ldap = new LdapAuthenticator(ldapOptions({ url: `ldap://127.0.0.1:${await freePort()}` }), new DirectoryAccounts(root, chain.users.homes), log.logger);
    const req = { user: 'alice', remoteAddress: '127.0.0.1', secure: true };
    expect(await ldap.login({ ...req, password: '' })).toBeNull();
    await expect(ldap.login({ ...req, password: 'wonderland' })).rejects.toSatisfy(isAuthUnavailable);
    ldap.close();
  });

  it('a name in the config file and in LDAP: the config file wins, with a warning', async () => {
    expect(log.find('user is in the config file and in LDAP: the config file account is used').map((l) => l.user)).toEqual(['frank']);
    expect((await passReply(t, 'frank', 'ldap-frank')).code).toBe(530);
    const frank = await ftps(t, 'frank', 'config-frank');
    frank.close();
  });

  it('a home outside the served root, or none, refuses the login (logged)', async () => {
    expect((await passReply(t, 'mallory', 'escape')).code).toBe(530);
    expect(log.find('LDAP login refused: home refused').map((l) => l.user)).toContain('mallory');
    expect((await passReply(t, 'nohome', 'nohome-pw')).code).toBe(530);
    expect(log.find('LDAP login refused: the entry has no home attribute').map((l) => l.user)).toContain('nohome');
  });

  it('ldap.requireGroup refuses users outside it; group rules with a certificate login refuse passwords', async () => {
    const accounts = new DirectoryAccounts(root, chain.users.homes);
    const req = { remoteAddress: '127.0.0.1', secure: true };
    const required = new LdapAuthenticator(ldapOptions({ requireGroup: FTP_USERS }), accounts, log.logger);
    const certOnly = new LdapAuthenticator(ldapOptions({ groups: [{ dn: FTP_USERS, login: 'certificate' }] }), accounts, log.logger);
    try {
      expect(await required.login({ ...req, user: 'dave', password: 'no-group' })).toBeNull();
      expect(await required.login({ ...req, user: 'bob', password: 'builder' })).toBeNull();
      expect(await required.login({ ...req, user: 'alice', password: 'wonderland' })).not.toBeNull();
      expect(await certOnly.login({ ...req, user: 'alice', password: 'wonderland' })).toBeNull();
      expect(await certOnly.login({ ...req, user: 'dave', password: 'no-group' })).not.toBeNull();
    } finally {
      required.close();
      certOnly.close();
    }
  });

  it('wrong LDAP passwords count toward a ban like any other', async () => {
    for (let i = 0; i < 3; i++) expect((await passReply(t, 'alice', 'wrong', '127.0.22.1')).code).toBe(530);
    expect((await receiveAll(t.port, '127.0.22.1')).text).toBe(BANNED);
  });

  it('the directory stopped mid-run: running sessions go on, new LDAP logins get 421 (not a failure), config users still log in; restarted, logins work again', async () => {
    const alice = await ftps(t, 'alice', 'wonderland');
    const cached = new LdapAuthenticator(ldapOptions({ cacheMs: 60_000 }), new DirectoryAccounts(root, chain.users.homes), log.logger);
    const req = { user: 'alice', remoteAddress: '127.0.0.1', secure: true };
    try {
      expect(await cached.login({ ...req, password: 'wonderland' })).not.toBeNull();
      await slapd.stop();

      expect((await alice.list()).map((f) => f.name)).toContain('hello.txt');
      // Five 421s from one address: unavailability is not a failed login, so no ban.
      for (let i = 0; i < 5; i++) {
        const r = await passReply(t, 'alice', 'wonderland', '127.0.23.1');
        expect(r.code).toBe(421);
        expect(r.text).toMatch(LOGIN_UNAVAILABLE);
      }
      const line = log.find('login refused: authentication service unavailable').at(-1)!;
      expect(line).toMatchObject({ user: 'alice' });
      expect(String(line.reason)).toMatch(/^LDAP directory unavailable/);
      (await ftps(t, 'frank', 'config-frank')).close();
      // The cache answers a known password, and never turns a wrong one into a success.
      expect(await cached.login({ ...req, password: 'wonderland' })).not.toBeNull();
      await expect(cached.login({ ...req, password: 'wrong' })).rejects.toSatisfy(isAuthUnavailable);

      await slapd.start();
      const again = await ftps(t, 'alice', 'wonderland');
      again.close();
      expect((await passReply(t, 'alice', 'wonderland', '127.0.23.1')).code).toBe(230);
      expect(log.text()).not.toContain('wonderland');
      expect(log.text()).not.toContain(READER_PASSWORD);
    } finally {
      alice.close();
      cached.close();
    }
  }, 60_000);
});

const run = promisify(execFile);

/** A CA and a server certificate for 127.0.0.1 and localhost, made with openssl. */
async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const f = (n: string) => join(dir, n);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=ftpsd test LDAP CA', '-keyout', f('ca.key'), '-out', f('ca.pem')]);
  await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr')]);
  await writeFile(f('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.pem')]);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

describe.skipIf(!hasSlapd())('LDAP over TLS (StartTLS and ldaps://, certificates from openssl)', () => {
  let slapd: Slapd;
  let ca: string;
  let root: string;
  const log = captureLog('info');

  beforeAll(async () => {
    const dir = await tempDir();
    const certs = await makeCerts(dir);
    ca = await readFile(certs.ca, 'utf8');
    slapd = await startSlapd(LDIF, certs);
    root = await tempDir();
  }, 60_000);

  afterAll(async () => {
    await slapd?.stop();
    await removeTempDirs();
  });

  function auth(extra: Partial<LdapOptions>): LdapAuthenticator {
    const users = new UserAuthenticator([]);
    return new LdapAuthenticator({ url: slapd.url, base: PEOPLE, timeoutMs: 3000, ...extra }, new DirectoryAccounts(root, users.homes), log.logger);
  }
  const req = { user: 'alice', password: 'wonderland', remoteAddress: '127.0.0.1', secure: true };

  it('StartTLS and ldaps:// with ldap.ca log in; a directory certificate not signed by ldap.ca is unavailable, never a login', async () => {
    for (const a of [auth({ startTls: true, ca }), auth({ url: slapd.ldapsUrl!, ca })]) {
      try {
        expect(await a.login(req)).not.toBeNull();
        expect(await a.login({ ...req, password: 'wrong' })).toBeNull();
      } finally {
        a.close();
      }
    }
    for (const a of [auth({ startTls: true }), auth({ url: slapd.ldapsUrl! })]) {
      try {
        await expect(a.login(req)).rejects.toSatisfy(isAuthUnavailable);
      } finally {
        a.close();
      }
    }
  });
});
