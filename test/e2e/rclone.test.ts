/**
 * rclone (Go's crypto/tls) against a real ftpsd on its defaults (TLS required, session reuse `require`).
 *
 * rclone keeps one TLS session cache for all its connections, so every control connection after the
 * first resumes the first one's ticket, and its data connections resume that same session: the server
 * must bind them to the control connection that resumed it (src/tls/session-reuse.ts, `adopt()`).
 * Explicit and implicit FTPS, TLS 1.3 and (`disable_tls13`) TLS 1.2; a tree copied with 8 transfers at
 * once (before the fix every TLS 1.3 copy failed with 425), `rclone check`, and `rclone test info` (its
 * quick checks pass with or without the fix here: they keep to one connection).
 *
 * Each run is bounded (--timeout, --contimeout, no retries: a refused transfer fails the run instead of
 * being retried until it happens to pass).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASS, USER } from '../helpers/server.js';
import { expectSuccess, run, tempDir, withServer, type RunOptions, type TempDir } from './helpers.js';

const hasRclone = spawnSync('rclone', ['version'], { stdio: 'ignore' }).status === 0;
if (!hasRclone) console.warn('rclone tests skipped: rclone is not installed (Debian package rclone)');

const BOUNDS = ['--contimeout', '10s', '--timeout', '30s', '--retries', '1', '--low-level-retries', '1'];

function rclone(args: string[], options: RunOptions = {}) {
  // No config file: the remote is given on the command line.
  return run('rclone', [...args, ...BOUNDS], { timeoutMs: 90_000, ...options, env: { ...process.env, RCLONE_CONFIG: '/dev/null', ...options.env } });
}

describe.skipIf(!hasRclone)('rclone over FTPS, session reuse required', () => {
  const server = withServer({ implicit: true, tlsRequired: 'login', sessionReuse: 'require' });
  let local: TempDir;
  let obscured: string;

  beforeAll(async () => {
    local = await tempDir('ftpsd-rclone-');
    await mkdir(join(local.path, 'tree', 'sub'), { recursive: true });
    for (let i = 1; i <= 24; i++) await writeFile(join(local.path, 'tree', `f${i}.bin`), Buffer.alloc(i * 997, i));
    for (let i = 1; i <= 4; i++) await writeFile(join(local.path, 'tree', 'sub', `s${i}.txt`), `sub ${i}\n`);
    const o = expectSuccess(await rclone(['obscure', PASS]));
    obscured = o.stdout.trim();
  });
  afterAll(() => local?.remove());

  /** An on-the-fly remote (`:ftp,...:`) for a mode. */
  function remote(mode: 'explicit' | 'implicit', tls12: boolean): string {
    const t = server();
    const port = mode === 'implicit' ? t.implicitPort! : t.port;
    const tls = mode === 'implicit' ? 'tls=true' : 'explicit_tls=true';
    return `:ftp,host=${t.host},port=${port},user=${USER},pass=${obscured},${tls},no_check_certificate=true${tls12 ? ',disable_tls13=true' : ''}:`;
  }

  for (const [mode, tls12] of [['explicit', false], ['implicit', false], ['explicit', true], ['implicit', true]] as const) {
    it(`${mode} ${tls12 ? 'TLS 1.2' : 'TLS 1.3'}: copy with --transfers 8, then check`, async () => {
      const dest = `${remote(mode, tls12)}${mode}-${tls12 ? '12' : '13'}`;
      expectSuccess(await rclone(['copy', join(local.path, 'tree'), dest, '--transfers', '8', '--checkers', '8']));
      const check = expectSuccess(await rclone(['check', join(local.path, 'tree'), dest, '--download']));
      expect(check.stderr).toMatch(/0 differences found/);
      expect(check.stderr).toMatch(/28 matching files/);
      const back = await readFile(join(server().root, `${mode}-${tls12 ? '12' : '13'}`, 'sub', 's3.txt'), 'utf8');
      expect(back).toBe('sub 3\n');
    });
  }

  it('explicit TLS 1.3: rclone test info (normalization, streaming upload)', async () => {
    const r = expectSuccess(await rclone(['test', 'info', '--check-normalization', '--check-streaming', `${remote('explicit', false)}info`]));
    expect(r.stdout).toMatch(/canStream = true/);
  });
});
