/**
 * `ftpsd check-config FILE`: `ok` for a good file (the shipped example among them), else every error
 * with its field path on stderr, one per line, exit code 2.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUTS } from '../../src/settings.js';
import { REPO, assertBuilt, removeTempDirs, run, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterAll(removeTempDirs);

const EXAMPLE = join(REPO, 'examples', 'ftpsd.yaml');

describe('ftpsd check-config', () => {
  it('accepts examples/ftpsd.yaml', async () => {
    const r = await run(['check-config', EXAMPLE]);
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });
  });

  it('the example shows the real defaults of timeouts and limits', async () => {
    const example = parse(await readFile(EXAMPLE, 'utf8')) as { timeouts: unknown; limits: unknown };
    expect(example.timeouts).toEqual(DEFAULT_TIMEOUTS);
    expect(example.limits).toEqual(DEFAULT_LIMITS);
  });

  it('accepts an empty file and the shortest forms', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'empty.yaml'), '');
    expect((await run(['check-config', join(dir, 'empty.yaml')])).stdout).toBe('ok\n');
    await writeFile(join(dir, 'short.yaml'), 'listen: 2121\nimplicitListen: off\nanonymous: true\nroot: /srv/ftp\n');
    expect((await run(['check-config', join(dir, 'short.yaml')])).stdout).toBe('ok\n');
  });

  it('lists every error with its path, one per line', async () => {
    const dir = await tempDir();
    const file = join(dir, 'bad.yaml');
    await writeFile(
      file,
      [
        'listen: ["127.0.0.1:70000", "[::1]:2121", ":::2121", "no such host:1"]',
        'users:',
        '  - {name: alice, password: secret}',
        '  - {name: bob, home: bob}',
        '  - {name: carol, password: "$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4", shell: /bin/sh}',
        'tls: {cert: cert.pem}',
        'pasvPorts: 0-10',
        'sessionReuse: sometimes',
        'limits: {maxLineBytes: 10}',
        'colour: blue',
      ].join('\n'),
    );
    const r = await run(['check-config', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'listen[0]: port must be <= 65535',
      'listen[3]: "no such host" is not a host name or IP address',
      'users[0].password: must be an argon2id hash (use: ftpsd hash-password)',
      'users[1].password: is required (unless login: certificate)',
      'users[2].shell: unknown option',
      'tls.key: is required',
      'pasvPorts: port must be >= 1',
      'sessionReuse: must be one of require, require-or-client-cert, allow, off',
      'limits.maxLineBytes: must be >= 512',
      'colour: unknown option',
    ]);
  });

  it('names nested fields with their indexes, every error of every section', async () => {
    const dir = await tempDir();
    const file = join(dir, 'nested.yaml');
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4';
    await writeFile(
      file,
      [
        'users:',
        `  - name: a`,
        `    password: "${hash}"`,
        '    rules:',
        '      - {path: /ok, allow: [read]}',
        '      - {path: /x, allow: [fly]}',
        '    quota: {bytes: -1}',
        'security:',
        '  allow: [10.0.0.0/8, 300.0.0.0/8]',
        '  ban: {failures: 0}',
        'pasvAddress:',
        '  - {network: 10.0.0.0/8, address: "2001:db8::1"}',
        '  - {address: 203.0.113.7, port: 21}',
        'proxyProtocol: [127.0.0.1/8, "::1/129"]',
        'watchConfig: sometimes',
        'runAs: {user: "a b"}',
        'timeouts: {idleMs: 0}',
      ].join('\n'),
    );
    const r = await run(['check-config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'users[0].rules[1].allow[0]: must be one of list, read, write, append, delete, rename, mkdir, rmdir, chmod, settime',
      'users[0].quota.bytes: must be >= 0',
      'pasvAddress[0].address: "2001:db8::1" is IPv6: PASV replies carry IPv4 only (IPv6 clients use EPSV)',
      'pasvAddress[1].port: unknown option',
      'timeouts.idleMs: must be >= 1',
      'security.ban.failures: must be >= 1',
      'security.allow[1]: "300.0.0.0/8" is not a network: expected an address or CIDR like 192.0.2.0/24 or 2001:db8::/32',
      'proxyProtocol[1]: "::1/129": the prefix length must be a whole number from 0 to 128',
      'watchConfig: must be true or false',
      'runAs.user: must be a user name or a numeric id',
    ]);
  });

  it('reports duplicate user names and YAML syntax errors with their place', async () => {
    const dir = await tempDir();
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4';
    await writeFile(join(dir, 'dup.yaml'), `users:\n  - {name: a, password: "${hash}"}\n  - {name: a, password: "${hash}"}\n`);
    const dup = await run(['check-config', join(dir, 'dup.yaml')]);
    expect(dup.stderr).toBe('users[1].name: duplicate user name "a"\n');
    expect(dup.code).toBe(2);
    await writeFile(join(dir, 'syntax.yaml'), 'root: /srv\nroot: /tmp\n');
    const syntax = await run(['check-config', join(dir, 'syntax.yaml')]);
    expect(syntax.stderr).toBe(`${join(dir, 'syntax.yaml')}: line 2, column 1: Map keys must be unique\n`);
    expect(syntax.code).toBe(2);
  });

  it('suggests the known key for a misspelt one (did you mean readOnly?)', async () => {
    const dir = await tempDir();
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4';
    await writeFile(join(dir, 'typo.yaml'), `users:\n  - {name: a, password: "${hash}"}\n  - {name: b, password: "${hash}", readonly: true}\nlimits: {maxSesions: 3}\nfrobnicate: 1\n`);
    const r = await run(['check-config', join(dir, 'typo.yaml')]);
    expect(r.stderr.trimEnd().split('\n').sort()).toEqual([
      'frobnicate: unknown option',
      'limits.maxSesions: unknown option (did you mean maxSessions?)',
      'users[1].readonly: unknown option (did you mean readOnly?)',
    ]);
    expect(r.code).toBe(2);
  });

  it('--help lists serve without its catch-all argument', async () => {
    const help = await run(['--help']);
    expect(help.stdout).toMatch(/^\s+serve \[options\]\s/m);
    expect(help.stdout).not.toContain('unexpected');
  });

  it('a missing file', async () => {
    const r = await run(['check-config', 'does-not-exist.yaml']);
    expect(r.stderr).toBe('does-not-exist.yaml: cannot read config file: no such file\n');
    expect(r.code).toBe(2);
  });
});
