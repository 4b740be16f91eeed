/**
 * The `ldap` and `authHook` options: loadConfig (flags > environment > file for ldap.url, paths relative
 * to the file, the checks), and `ftpsd serve --ldap-url` against a real slapd with curl.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { hasSlapd, READER_DN, READER_PASSWORD, startSlapd, SUFFIX } from '../helpers/slapd.js';
import { assertBuilt, configFile, killAll, listExplicit, loopbackArgs, removeTempDirs, run, Served } from './cli.js';

afterAll(async () => {
  killAll();
  await removeTempDirs();
});

const LDAP_FILE = ['ldap:', '  url: ldaps://file.example.test', '  base: ou=people,dc=example,dc=test', '  ca: ldap-ca.pem', '  bindDn: cn=reader,dc=example,dc=test', '  bindPasswordFile: reader.pw', ''].join('\n');

async function loadError(flags: Parameters<typeof loadConfig>[0], env: NodeJS.ProcessEnv, cwd: string): Promise<string> {
  try {
    await loadConfig(flags, { env, cwd });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('loaded');
}

describe('ldap and authHook options', () => {
  it('ldap.url: --ldap-url over FTPSD_LDAP_URL over the file; the rest from the file, paths relative to it; no default account', async () => {
    const { dir, file } = await configFile(LDAP_FILE + 'authHook:\n  url: https://hook.example.test/login\n  timeoutMs: 2000\n');
    const fromFile = await loadConfig({ config: file }, { env: {}, cwd: dir });
    expect(fromFile.ldap).toEqual({
      url: 'ldaps://file.example.test',
      base: 'ou=people,dc=example,dc=test',
      ca: join(dir, 'etc', 'ldap-ca.pem'),
      bindDn: 'cn=reader,dc=example,dc=test',
      bindPasswordFile: join(dir, 'etc', 'reader.pw'),
    });
    expect(fromFile.authHook).toEqual({ url: 'https://hook.example.test/login', timeoutMs: 2000 });
    expect(fromFile.users).toEqual([]);
    expect(fromFile.generatedPassword).toBeUndefined();
    const fromEnv = await loadConfig({ config: file }, { env: { FTPSD_LDAP_URL: 'ldap://env.example.test:389' }, cwd: dir });
    expect(fromEnv.ldap?.url).toBe('ldap://env.example.test:389');
    const fromFlag = await loadConfig({ config: file, ldapUrl: 'ldaps://flag.example.test' }, { env: { FTPSD_LDAP_URL: 'ldap://env.example.test' }, cwd: dir });
    expect(fromFlag.ldap).toMatchObject({ url: 'ldaps://flag.example.test', base: 'ou=people,dc=example,dc=test' });
    expect((await loadConfig({}, { env: {}, cwd: dir })).ldap).toBeUndefined();
  });

  it('refuses: a URL without base, base without URL, other schemes, credentials or a path in the URL, bindDn without its file, a filter without {name}', async () => {
    const { dir } = await configFile('');
    expect(await loadError({ ldapUrl: 'ldaps://x.example.test' }, {}, dir)).toMatch(/ldap\.base: is required with ldap\.url/);
    const noUrl = await configFile('ldap:\n  base: dc=example,dc=test\n');
    expect(await loadError({ config: noUrl.file }, {}, noUrl.dir)).toMatch(/ldap\.url: is required/);
    expect(await loadError({ ldapUrl: 'http://x.example.test' }, {}, dir)).toMatch(/--ldap-url: must be an LDAP URL/);
    expect(await loadError({}, { FTPSD_LDAP_URL: 'ldap://u:p@x.example.test' }, dir)).toMatch(/FTPSD_LDAP_URL: must not hold credentials/);
    expect(await loadError({ ldapUrl: 'ldap://x.example.test/dc=example' }, {}, dir)).toMatch(/give the base in ldap\.base/);
    const filter = await configFile('ldap:\n  url: ldaps://x.example.test\n  base: dc=x\n  filter: (uid=*)\n');
    expect(await loadError({ config: filter.file }, {}, filter.dir)).toMatch(/ldap\.filter: must contain \{name\}/);
    const bind = await configFile('ldap:\n  url: ldaps://x.example.test\n  base: dc=x\n  bindDn: cn=r\n');
    expect(await loadError({ config: bind.file }, {}, bind.dir)).toMatch(/ldap\.bindDn: needs ldap\.bindPasswordFile/);
    const startTls = await configFile('ldap:\n  url: ldaps://x.example.test\n  base: dc=x\n  startTls: true\n');
    expect(await loadError({ config: startTls.file }, {}, startTls.dir)).toMatch(/ldap\.startTls: is for ldap:\/\/ URLs/);
    const hook = await configFile('authHook:\n  url: ftp://x.example.test\n');
    expect(await loadError({ config: hook.file }, {}, hook.dir)).toMatch(/authHook\.url: must be an http/);
  });
});

describe('ftpsd serve: the LDAP bind password file is a secret', () => {
  it('refuses to start when others may read it, naming the fix', async () => {
    assertBuilt();
    const { dir, file } = await configFile(['ldap:', '  url: ldap://127.0.0.1:9', '  base: dc=example,dc=test', '  bindDn: cn=reader,dc=example,dc=test', '  bindPasswordFile: reader.pw', ''].join('\n'));
    const pw = join(dir, 'etc', 'reader.pw');
    await writeFile(pw, 'secret\n');
    await chmod(pw, 0o644);
    const r = await run(['serve', '--config', file, ...loopbackArgs(dir)], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`LDAP bind password file ${pw} is readable by others (mode 0644): chmod 600 ${pw}`);
    expect(r.stdout + r.stderr).not.toContain('secret\n');
  });
});

describe('ftpsd serve with authHook (an HTTP server of the test, curl)', () => {
  it('logs in whom the hook accepts, with a home under root; the hook URL credentials and passwords are not in the output', async () => {
    assertBuilt();
    const hook = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      const { name, password } = JSON.parse(body) as { name: string; password: string };
      const basic = 'Basic ' + Buffer.from('hk:hook-url-secret').toString('base64');
      if (req.headers.authorization === basic && name === 'hank' && password === 'hank-pw') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"home": "/hank"}');
      } else res.writeHead(401).end();
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const url = `http://hk:hook-url-secret@127.0.0.1:${(hook.address() as AddressInfo).port}/login`;
    const { dir, file } = await configFile(`tlsRequired: off\nauthHook:\n  url: "${url}"\n  timeoutMs: 2000\n`);
    const served = await Served.start(['--config', file, ...loopbackArgs(dir)], { cwd: dir });
    try {
      expect(served.stdout).toMatch(/^auth hook: +http:\/\/127\.0\.0\.1:\d+\/login$/m);
      const hank = await listExplicit(served.port, 'hank', 'hank-pw');
      expect(hank.code, hank.stderr).toBe(0);
      expect(existsSync(join(dir, 'root', 'hank'))).toBe(true);
      expect((await listExplicit(served.port, 'hank', 'wrong')).code).toBe(67);
    } finally {
      await served.stop();
      hook.close();
    }
    const output = served.stdout + served.stderr;
    for (const secret of ['hook-url-secret', 'hank-pw']) expect(output).not.toContain(secret);
  }, 60_000);
});

describe.skipIf(!hasSlapd())('ftpsd serve --ldap-url (real slapd, curl)', () => {
  it('logs LDAP users in beside config users; a name in both is warned about at start; no secret in the output', async () => {
    assertBuilt();
    const people = `ou=people,${SUFFIX}`;
    const slapd = await startSlapd(
      [
        [`dn: ${people}`, 'objectClass: organizationalUnit', 'ou: people', ''].join('\n'),
        ...[
          ['alice', 'wonderland'],
          ['frank', 'ldap-frank'],
        ].map(([uid, pw], i) =>
          [`dn: uid=${uid},${people}`, 'objectClass: inetOrgPerson', 'objectClass: posixAccount', `uid: ${uid}`, `cn: ${uid}`, `sn: ${uid}`, `uidNumber: ${3000 + i}`, 'gidNumber: 3000', `homeDirectory: /home/${uid}`, `userPassword: ${pw}`, ''].join('\n'),
        ),
      ].join('\n'),
    );
    const { dir, file } = await configFile(
      [
        'tlsRequired: off',
        'users:',
        '  - name: frank',
        // argon2id of "config-frank"
        '    password: "$argon2id$v=19$m=19456,t=2,p=1$yWMBjKdeRc29NiWDxZy1Jg$jzgwDF7HF2K32PloyUWpANraAqFcR1qPns9K+wJ7EIo"',
        'ldap:',
        `  base: ${people}`,
        `  bindDn: ${READER_DN}`,
        '  bindPasswordFile: reader.pw',
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'etc', 'reader.pw'), READER_PASSWORD + '\n', { mode: 0o600 });
    const served = await Served.start(['--config', file, '--ldap-url', slapd.url, ...loopbackArgs(dir)], { cwd: dir });
    try {
      expect(served.stdout).toMatch(new RegExp(`^ldap: +${slapd.url.replace(/\./g, '\\.')}, base ${people}$`, 'm'));
      const alice = await listExplicit(served.port, 'alice', 'wonderland');
      expect(alice.code, alice.stderr).toBe(0);
      expect((await listExplicit(served.port, 'alice', 'wrong')).code).toBe(67);
      expect((await listExplicit(served.port, 'frank', 'ldap-frank')).code).toBe(67);
      await expect.poll(() => served.stdout + served.stderr, { timeout: 10_000 }).toMatch(/user is in the config file and in LDAP/);
    } finally {
      await served.stop();
      await slapd.stop();
    }
    const output = served.stdout + served.stderr;
    for (const secret of [READER_PASSWORD, 'wonderland']) expect(output).not.toContain(secret);
  }, 60_000);
});

describe.skipIf(!hasSlapd())('ftpsd serve: SIGHUP switches from the auth hook to LDAP', () => {
  it('after the reload LDAP users log in and the hook is no longer asked', async () => {
    assertBuilt();
    const people = `ou=people,${SUFFIX}`;
    const slapd = await startSlapd(
      [
        [`dn: ${people}`, 'objectClass: organizationalUnit', 'ou: people', ''].join('\n'),
        [`dn: uid=alice,${people}`, 'objectClass: inetOrgPerson', 'objectClass: posixAccount', 'uid: alice', 'cn: alice', 'sn: alice', 'uidNumber: 4000', 'gidNumber: 4000', 'homeDirectory: alice', 'userPassword: wonderland', ''].join('\n'),
      ].join('\n'),
    );
    let asked = 0;
    const hook = createServer(async (req, res) => {
      for await (const _ of req);
      asked++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"home": "hooked"}');
    });
    hook.listen(0, '127.0.0.1');
    await once(hook, 'listening');
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`;
    const { dir, file } = await configFile(`tlsRequired: off\nauthHook:\n  url: "${hookUrl}"\n`);
    const served = await Served.start(['--config', file, ...loopbackArgs(dir)], { cwd: dir });
    try {
      expect((await listExplicit(served.port, 'hank', 'anything')).code).toBe(0);
      expect(asked).toBe(1);
      await writeFile(file, `tlsRequired: off\nldap:\n  url: ${slapd.url}\n  base: ${people}\n`);
      served.child.kill('SIGHUP');
      await expect.poll(() => served.stdout, { timeout: 15_000 }).toMatch(/config reloaded/);
      const alice = await listExplicit(served.port, 'alice', 'wonderland');
      expect(alice.code, alice.stderr).toBe(0);
      expect((await listExplicit(served.port, 'hank', 'anything')).code).toBe(67);
      expect(asked).toBe(1);
    } finally {
      await served.stop();
      hook.close();
      await slapd.stop();
    }
  }, 60_000);
});
