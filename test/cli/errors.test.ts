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
    [['--session-reuse', 'never'], /^error: --session-reuse: must be one of require, allow, off$/],
    [['--log-level', 'loud'], /^error: --log-level: must be one of trace, debug, info, warn, error, fatal, silent$/],
    [['--pasv-ports', '6000-5000'], /^error: --pasv-ports: range start 6000 is greater than its end 5000$/],
    [['--pasv-address', 'example.com'], /^error: --pasv-address: must be an IPv4 address/],
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
  ])('environment %s=%s', async (name, value, line) => {
    await expectUsageError(['--listen', '127.0.0.1:0'], line, { [name]: value });
  });

  it.each([
    ['listen: ["127.0.0.1:65536"]', /^error: ftpsd\.yaml: listen\[0\]: port must be <= 65535$/],
    [`users:\n  - {name: a, password: "${HASH}"}\n  - {name: b, password: hunter2}`, /^error: ftpsd\.yaml: users\[1\]\.password: must be an argon2id hash \(use: ftpsd hash-password\)$/],
    ['listn: []', /^error: ftpsd\.yaml: listn: unknown option$/],
    ['timeouts: {idleMs: fast}', /^error: ftpsd\.yaml: timeouts\.idleMs: must be a whole number of milliseconds/],
    ['tlsRequired: maybe\nsessionReuse: x', /^error: ftpsd\.yaml: tlsRequired: must be one of off, login, all \(and 1 more: ftpsd check-config ftpsd\.yaml\)$/],
    ['root: [unclosed', /^error: ftpsd\.yaml: line 2, column 1: Flow sequence/],
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
