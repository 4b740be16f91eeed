/**
 * lftp (GnuTLS) against a real ftpsd: plain FTP, explicit FTPS (`ftp:ssl-force`, `ftp:ssl-protect-data`,
 * `ftp:ssl-use-ccc`), implicit FTPS (`ftps://`), passive and active mode, IPv4 and IPv6.
 *
 * lftp 4.9 behaviours that shape what is tested where:
 * - After CCC, lftp has no control TLS session left to copy into its data connections (it copies the
 *   session from the live control TLS connection, which CCC removed), so protected data after CCC starts
 *   a new TLS session. Under `require` ftpsd accepts that once the control connection is cleared and its
 *   TLS session is known to the server (policy.ts, sessionReuse()): tested with PROT P under the default.
 * - lftp's CCC is racy: when the server's close_notify arrives in the same read as the 200 reply, lftp
 *   handles the 200, then sees end-of-stream in the same read loop, reports "Peer closed connection" and
 *   reconnects (ReceiveOneLine in ftpclass.cc). curl, Python and our raw client do not have this problem,
 *   and the server must send close_notify after the 200 (curl's default CCC mode waits for it). So the lftp
 *   CCC tests allow lftp to retry: a server whose CCC is broken still fails every attempt.
 * - Active mode over IPv6 loopback: lftp does not bind its data socket to an address when the peer is a
 *   loopback address, and unlike IPv4 it does not replace the unspecified address, so it sends
 *   `EPRT |2|::|port|`, which the server rejects (the data address must be the client's own). lftp then
 *   falls back to passive mode. IPv6 active mode is covered by curl and Python instead.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { lftp, lftpOpen, lftpQuote as q } from './clients.js';
import { expectFailure, expectSuccess, ipv6Cases, MiB, sha256File, withLocalFile, withServer, type Mode } from './helpers.js';

const hasV6 = await ipv6Cases();

const file = withLocalFile(3 * MiB + 5);

const ACTIVE = 'set ftp:passive-mode no';
/** See the CCC race above. */
const CCC_RETRIES = 'set net:max-retries 8';
const PASSIVE = 'set ftp:passive-mode yes';

/** put, check the file on disk, get it back and compare. */
async function roundTrip(t: TestServer, mode: Mode, remote: string, settings: string[] = []): Promise<void> {
  const back = join(file.work.path, `back-${Math.random().toString(36).slice(2)}.bin`);
  expectSuccess(await lftp(`${lftpOpen(t, mode, settings)}; put ${q(file.path)} -o ${q(remote)}; get ${q(remote)} -o ${q(back)}`));
  expect(await sha256File(join(t.root, remote))).toBe(file.hash);
  expect(await sha256File(back)).toBe(file.hash);
}

describe('lftp, plain FTP', () => {
  const server = withServer({ tlsRequired: 'off' });

  it('put and get in passive mode', () => roundTrip(server(), 'plain', 'passive.bin', [PASSIVE]));

  it('put and get in active mode (PORT)', () => roundTrip(server(), 'plain', 'active.bin', [ACTIVE]));

  it('mkdir -p, mv, rm, rmdir with spaces and UTF-8 in names', async () => {
    const t = server();
    const dir = 'new dir/sub dir';
    const r = await lftp(
      `${lftpOpen(t, 'plain')}; mkdir -p ${q(dir)}; put ${q(file.path)} -o ${q(`${dir}/ä ö ü.bin`)}; ` +
        `mv ${q(`${dir}/ä ö ü.bin`)} ${q('new dir/überall.bin')}; rmdir ${q(dir)}; cls -1 ${q('new dir/')}`,
    );
    expectSuccess(r);
    expect(r.stdout.trim().split('\n')).toEqual(['new dir/überall.bin']);
    expect(existsSync(join(t.root, 'new dir', 'sub dir'))).toBe(false);
    expect(await sha256File(join(t.root, 'new dir', 'überall.bin'))).toBe(file.hash);
    expectSuccess(await lftp(`${lftpOpen(t, 'plain')}; rm ${q('new dir/überall.bin')}; rmdir ${q('new dir')}`));
    expect(existsSync(join(t.root, 'new dir'))).toBe(false);
  });

  it('fails (non-zero exit) on a wrong password and on a missing file', async () => {
    const t = server();
    expectFailure(await lftp(`set ftp:ssl-allow no; open -u alice,wrong ftp://127.0.0.1:${t.port}; ls`));
    expectFailure(await lftp(`${lftpOpen(t, 'plain')}; get missing.bin -o ${q(join(file.work.path, 'never'))}`));
  });
});

describe('lftp, explicit FTPS (TLS required for login)', () => {
  const server = withServer({ tlsRequired: 'login' });

  it('protected data, passive mode', () => roundTrip(server(), 'explicit', 'prot-p.bin', [PASSIVE]));

  it('protected data, active mode (the server is the TLS server of the data connection)', () =>
    roundTrip(server(), 'explicit', 'prot-p-active.bin', [ACTIVE]));

  it('refuses plain FTP for login: lftp without TLS fails', async () => {
    const t = server();
    expectFailure(await lftp(`set ftp:ssl-allow no; open -u alice,secret ftp://127.0.0.1:${t.port}; ls`));
  });
});

// Clear data after a TLS login is the admin's opt-out (hardening/clear-data.test.ts has the default).
describe('lftp, explicit FTPS with clear data (dataProtection: optional)', () => {
  const server = withServer({ tlsRequired: 'login', dataProtection: 'optional' });

  it('clear data (PROT C) after a TLS login', () =>
    roundTrip(server(), 'explicit', 'prot-c.bin', ['set ftp:ssl-protect-data no']));

  // lftp copies the data session from the live control TLS connection, which CCC removed: after CCC its
  // data connections start new sessions, which the default binding accepts (the control connection's
  // session is still known to the server; a foreign address is still refused).
  it('CCC with protected data under the default sessionReuse (require), passive and active', async () => {
    const ccc = ['set ftp:ssl-use-ccc yes', CCC_RETRIES];
    await roundTrip(server(), 'explicit', 'ccc-prot.bin', ccc);
    await roundTrip(server(), 'explicit', 'ccc-prot-active.bin', [...ccc, ACTIVE]);
  });

  it('CCC, then clear data, passive and active', async () => {
    const ccc = ['set ftp:ssl-use-ccc yes', 'set ftp:ssl-protect-data no', CCC_RETRIES];
    await roundTrip(server(), 'explicit', 'ccc.bin', ccc);
    await roundTrip(server(), 'explicit', 'ccc-active.bin', [...ccc, ACTIVE]);
  });
});

describe('lftp, explicit FTPS with session reuse "off"', () => {
  const server = withServer({ tlsRequired: 'login', sessionReuse: 'off' });

  it('CCC with protected data', () =>
    roundTrip(server(), 'explicit', 'ccc-prot-p.bin', ['set ftp:ssl-use-ccc yes', CCC_RETRIES]));

  // Every data connection is a full handshake here. With TLS 1.3 the server's session tickets would
  // sit unread at lftp, whose close() then resets the connection and loses the end of an upload (about
  // one upload in five failed before data connections without resumption were limited to TLS 1.2).
  it('several protected uploads in one session, none lost to a reset', async () => {
    const t = server();
    const puts = Array.from({ length: 12 }, (_, i) => `put ${q(file.path)} -o ${q(`up-${i}.bin`)}`).join('; ');
    expectSuccess(await lftp(`${lftpOpen(t, 'explicit')}; ${puts}`));
    for (let i = 0; i < 12; i++) expect(await sha256File(join(t.root, `up-${i}.bin`))).toBe(file.hash);
  });
});

describe('lftp, explicit FTPS (TLS required for everything)', () => {
  const server = withServer({ tlsRequired: 'all' });

  it('protected data, passive and active', async () => {
    await roundTrip(server(), 'explicit', 'all.bin', [PASSIVE]);
    await roundTrip(server(), 'explicit', 'all-active.bin', [ACTIVE]);
  });

  it('lists a directory', async () => {
    const t = server();
    await mkdir(join(t.root, 'sub'));
    await writeFile(join(t.root, 'sub', 'a b.txt'), 'x');
    const r = expectSuccess(await lftp(`${lftpOpen(t, 'explicit')}; cls -1 sub/`));
    expect(r.stdout.trim()).toBe('sub/a b.txt');
  });
});

describe('lftp, implicit FTPS', () => {
  const server = withServer({ tlsRequired: 'login', implicit: true });

  it('ftps:// put and get, passive', () => roundTrip(server(), 'implicit', 'implicit.bin', [PASSIVE]));

  it('ftps:// put and get, active', () => roundTrip(server(), 'implicit', 'implicit-active.bin', [ACTIVE]));
});

describe.skipIf(!hasV6)('lftp over IPv6 (::1)', () => {
  const server = withServer({ tlsRequired: 'off', host: '::1', implicit: true });

  it('plain FTP, passive (EPSV)', () => roundTrip(server(), 'plain', 'v6.bin', [PASSIVE]));

  it('explicit FTPS, protected data (EPSV)', () => roundTrip(server(), 'explicit', 'v6-prot-p.bin', [PASSIVE]));

  it('implicit FTPS', () => roundTrip(server(), 'implicit', 'v6-implicit.bin', [PASSIVE]));
});
