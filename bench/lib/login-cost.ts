/**
 * The cost of ftpsd's argon2id password check, reported apart from the session rate (which is measured
 * with a `--user NAME:PASSWORD` account: a constant-time comparison, as cheap as the anchors' checks).
 *   login_argon2id_verify_ms       wall time of one verify() of a hash made by `ftpsd hash-password`
 *   login_argon2id_verify_cpu_ms   CPU of one verify() (all threads of this process)
 *   login_plain_compare_us         one constant-time comparison of a --user password, for contrast
 *   login_argon2id_params          the hash parameters (m=KiB, t=passes, p=lanes)
 */
import { hashPassword, secretEquals, verifyHash } from '../../src/auth/password.js';
import { fmt, median, now, out, selfCpuSeconds } from './stats.js';

export async function loginCost(verifies: number): Promise<string> {
  const password = 'benchpass';
  const hash = await hashPassword(password);
  out('login_argon2id_params', /\$m=[^$]+/.exec(hash)?.[0].slice(1) ?? 'NA');
  if (!(await verifyHash(hash, password))) throw new Error('argon2id verify of a fresh hash failed');
  const wall: number[] = [];
  const c0 = selfCpuSeconds();
  for (let i = 0; i < verifies; i++) {
    const t0 = now();
    await verifyHash(hash, password);
    wall.push(1000 * (now() - t0));
  }
  const cpuMs = (1000 * (selfCpuSeconds() - c0)) / verifies;
  out('login_argon2id_verify_ms', fmt(median(wall), 2));
  out('login_argon2id_verify_ms_runs', wall.map((x) => fmt(x, 2)).join(','));
  out('login_argon2id_verify_cpu_ms', fmt(cpuMs, 2));
  const n = 100_000;
  const t0 = now();
  for (let i = 0; i < n; i++) secretEquals(password, 'benchpasz');
  out('login_plain_compare_us', fmt((1e6 * (now() - t0)) / n, 2));
  return hash;
}
