/**
 * Bad flags, environment or config: exit code 2, nothing on stdout, one line on stderr naming the field.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, removeTempDirs, run, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterAll(removeTempDirs);

const HASH = '$argon2id$v=19$m=19456,t=2,p=1$lfhSDm2H83NGRKweNea69Q$wDxyCG3+dXBpsTqjnupT6OJu9bjQ/9OxsL+E2jj8Wt4';

async function expectUsageError(args: string[], line: RegExp, env: Record<string, string> = {}): Promise<void> {
  const dir = await tempDir();
  const r = await run(['--root', join(dir, 'root'), '--state-dir', join(dir, 'state'), ...args], { env, cwd: dir });
  expect(r.stdout).toBe('');
  expect(r.stderr.endsWith('\n')).toBe(true);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr.trimEnd()).toMatch(line);
  expect(r.code).toBe(2);
}

describe.concurrent('usage errors exit 2 with one line naming the field', () => {
  it.each([
    [['--bogus'], /^error: unknown option '--bogus'$/],
    [['--lisen', '127.0.0.1:0'], /^error: unknown option '--lisen' \(Did you mean --listen\?\)$/],
    [['--pasv-ports'], /^error: option '--pasv-ports <min-max>' argument missing$/],
    [['frobnicate'], /^error: unknown command 'frobnicate'/],
    [['--listen', '127.0.0.1:99999'], /^error: --listen: port must be <= 65535$/],
    [['--listen', '127.0.0.1'], /^error: --listen: "127.0.0.1" has no port/],
    [['--implicit-listen', '[::1:990'], /^error: --implicit-listen: /],
    [['--tls-required', 'sometimes'], /^error: --tls-required: must be one of off, login, all$/],
    [['--session-reuse', 'never'], /^error: --session-reuse: must be one of require, require-or-client-cert, allow, off$/],
    [['--log-level', 'loud'], /^error: --log-level: must be one of trace, debug, info, warn, error, fatal, silent$/],
    [['--pasv-ports', '6000-5000'], /^error: --pasv-ports: range start 6000 is greater than its end 5000$/],
    [['--pasv-address', '2001:db8::1'], /^error: --pasv-address: "2001:db8::1" is IPv6: PASV replies carry IPv4 only/],
    [['--pasv-address', '10.0.0.0/8=10.1.2.3,ftp.example.com,192.0.2.1'], /^error: --pasv-address: a rule without a network matches every client: it must come last$/],
    [['--pasv-advertised-ports', '30000-30009'], /^error: pasvAdvertisedPorts: needs pasvPorts/],
    [['--proxy-protocol', '10.0.0.0/33'], /^error: --proxy-protocol: "10.0.0.0\/33": the prefix length must be a whole number from 0 to 32$/],
    [['--run-as-user', 'no such user'], /^error: --run-as-user: must be a user name or a numeric id$/],
    [['--run-as-group', 'wheel'], /^error: runAs.group: needs runAs.user/],
    [['--listen', '127.0.0.1:0', '--run-as-user', 'ftpsd-no-such-user'], /^error: runAs: no such user "ftpsd-no-such-user"$/],
    [['--cert', 'cert.pem'], /^error: --key: is required with --cert$/],
    [['--user', 'alice'], /^error: --user: expected NAME:PASSWORD$/],
    [['--user', 'alice:'], /^error: --user: password of "alice" must not be empty$/],
    [['--listen', 'off', '--implicit-listen', 'off'], /^error: listen: no listener left/],
  ])('%j', async (args, line) => {
    await expectUsageError(args, line);
  });

  it.each([
    ['FTPSD_LISTEN', '127.0.0.1:0,127.0.0.1:70000', /^error: FTPSD_LISTEN: port must be <= 65535$/],
    ['FTPSD_TLS_REQUIRED', 'maybe', /^error: FTPSD_TLS_REQUIRED: must be one of off, login, all$/],
    ['FTPSD_SESSION_REUSE', 'x', /^error: FTPSD_SESSION_REUSE: must be one of/],
    ['FTPSD_PASV_PORTS', '1-2-3', /^error: FTPSD_PASV_PORTS: expected MIN-MAX/],
    ['FTPSD_LOG_LEVEL', 'verbose', /^error: FTPSD_LOG_LEVEL: must be one of/],
    ['FTPSD_PROXY_PROTOCOL', '10.0.0.0/8,nowhere', /^error: FTPSD_PROXY_PROTOCOL: "nowhere" is not a network/],
    ['FTPSD_PASV_ADDRESS', '10.0.0.0/8=', /^error: FTPSD_PASV_ADDRESS: "" is not an IPv4 address or a host name$/],
    ['FTPSD_PASV_ADVERTISED_PORTS', '30000', /^error: FTPSD_PASV_ADVERTISED_PORTS: expected MIN-MAX/],
    ['FTPSD_WATCH_CONFIG', 'sometimes', /^error: FTPSD_WATCH_CONFIG: must be true or false$/],
    ['FTPSD_ANONYMOUS', 'maybe', /^error: FTPSD_ANONYMOUS: must be true or false$/],
    ['FTPSD_CERT', 'cert.pem', /^error: FTPSD_KEY: is required with FTPSD_CERT$/],
    ['FTPSD_RUN_AS_USER', 'a b', /^error: FTPSD_RUN_AS_USER: must be a user name or a numeric id$/],
    ['FTPSD_CONFIG', 'nowhere.yaml', /^error: nowhere\.yaml: cannot read config file: no such file$/],
  ])('environment %s=%s', async (name, value, line) => {
    await expectUsageError(['--listen', '127.0.0.1:0'], line, { [name]: value });
  });

  it.each([
    ['listen: ["127.0.0.1:65536"]', /^error: ftpsd\.yaml: listen\[0\]: port must be <= 65535$/],
    [`users:\n  - {name: a, password: "${HASH}"}\n  - {name: b, password: hunter2}`, /^error: ftpsd\.yaml: users\[1\]\.password: must be an argon2id hash \(use: ftpsd hash-password\)$/],
    ['listn: []', /^error: ftpsd\.yaml: listn: unknown option \(did you mean listen\?\)$/],
    ['timeouts: {idleMs: fast}', /^error: ftpsd\.yaml: timeouts\.idleMs: must be a whole number of milliseconds/],
    ['tlsRequired: maybe\nsessionReuse: x', /^error: ftpsd\.yaml: tlsRequired: must be one of off, login, all \(and 1 more: ftpsd check-config ftpsd\.yaml\)$/],
    ['root: [unclosed', /^error: ftpsd\.yaml: line 2, column 1: Flow sequence/],
    ['pasvAddress: [{network: 10.0.0.0/8, address: 10.1.2.3}, {network: 10.0.0.0/33, address: x}]', /^error: ftpsd\.yaml: pasvAddress\[1\]\.network: "10\.0\.0\.0\/33": the prefix length/],
    ['pasvPorts: 50000-50009\npasvAdvertisedPorts: 30000-30019', /^error: pasvAdvertisedPorts: must have as many ports as pasvPorts \(10\)$/],
    ['proxyProtocol: [127.0.0.1/32, bogus]', /^error: ftpsd\.yaml: proxyProtocol\[1\]: "bogus" is not a network/],
    ['runAs: {group: nogroup}', /^error: ftpsd\.yaml: runAs\.user: is required$/],
  ])('config file %j', async (text, line) => {
    const dir = await tempDir();
    await writeFile(join(dir, 'ftpsd.yaml'), text + '\n');
    const r = await run(['--config', 'ftpsd.yaml'], { cwd: dir });
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(line);
    expect(r.code).toBe(2);
  });

  it('a missing config file', async () => {
    await expectUsageError(['--config', 'nowhere.yaml'], /^error: nowhere\.yaml: cannot read config file: no such file$/);
  });

  it('a certificate file that is not there', async () => {
    await expectUsageError(['--listen', '127.0.0.1:0', '--cert', 'nope.pem', '--key', 'nope.key'], /^error: --cert: cannot read .*nope\.pem: no such file$/);
  });
});
