/**
 * Python 3 ftplib (OpenSSL) against a real ftpsd: `FTP`, `FTP_TLS` with the usual session-reuse subclass
 * (data connections resume the control connection's TLS session), stock `FTP_TLS` (refused with 425 under
 * session reuse `require`), implicit FTPS (a subclass that starts TLS before the greeting), CCC, TLS 1.2,
 * passive and active mode (active + PROT P too), IPv4 and IPv6, MLSD.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { python, pythonConfig, pythonOutput } from './clients.js';
import { expectFailure, expectSuccess, ipv6Cases, MiB, sha256File, withLocalFile, withServer, type Mode } from './helpers.js';

const hasV6 = await ipv6Cases();

const file = withLocalFile(3 * MiB + 11);

/** STOR (1 MiB blocks) then RETR; the optional CCC comes after PROT. */
const ROUND_TRIP = String.raw`
f = open_ftp(pasv=cfg['pasv'], prot=cfg.get('prot', 'P'))
if cfg.get('ccc'):
    f.ccc()
with open(cfg['local'], 'rb') as fh:
    up = f.storbinary('STOR ' + cfg['remote'], fh, blocksize=1 << 20)
with open(cfg['back'], 'wb') as fh:
    down = f.retrbinary('RETR ' + cfg['remote'], fh.write)
size = f.size(cfg['remote'])
tls = isinstance(f.sock, ssl.SSLSocket) and f.sock._sslobj is not None
f.quit()
out({'up': up, 'down': down, 'size': size, 'controlTls': tls})
`;

interface RoundTripOptions {
  pasv?: boolean;
  prot?: 'P' | 'C';
  ccc?: boolean;
  tlsMax?: '1.2';
}

async function roundTrip(t: TestServer, mode: Mode, remote: string, options: RoundTripOptions = {}) {
  const back = join(file.work.path, `back-${Math.random().toString(36).slice(2)}.bin`);
  const r = expectSuccess(
    await python(ROUND_TRIP, pythonConfig(t, mode, { local: file.path, back, remote, pasv: options.pasv ?? true, ...options })),
  );
  const result = pythonOutput<{ up: string; down: string; size: number; controlTls: boolean }>(r);
  expect(result.up).toMatch(/^226 /);
  expect(result.down).toMatch(/^226 /);
  expect(await sha256File(join(t.root, remote))).toBe(file.hash);
  expect(await sha256File(back)).toBe(file.hash);
  expect(result.size).toBe(3 * MiB + 11);
  return result;
}

describe('ftplib.FTP, plain FTP', () => {
  const server = withServer({ tlsRequired: 'off' });

  it('passive (PASV) round trip', () => roundTrip(server(), 'plain', 'passive.bin'));

  it('active (PORT) round trip', () => roundTrip(server(), 'plain', 'active.bin', { pasv: false }));

  it('mkd, cwd, pwd, rename, nlst, delete, rmd with UTF-8 names', async () => {
    const t = server();
    const script = String.raw`
f = open_ftp()
made = f.mkd('Verzeichnis mit Ümlaut')
f.cwd('Verzeichnis mit Ümlaut')
here = f.pwd()
f.storbinary('STOR datei 1.txt', io.BytesIO(b'eins\n'))
f.rename('datei 1.txt', 'Datei ✓.txt')
names = sorted(f.nlst())
f.delete('Datei ✓.txt')
f.cwd('..')
f.rmd('Verzeichnis mit Ümlaut')
f.quit()
out({'made': made, 'here': here, 'names': names})
`;
    const res = pythonOutput<{ made: string; here: string; names: string[] }>(
      expectSuccess(await python(script, pythonConfig(t, 'plain'))),
    );
    expect(res.made).toBe('/Verzeichnis mit Ümlaut');
    expect(res.here).toBe('/Verzeichnis mit Ümlaut');
    expect(res.names).toEqual(['Datei ✓.txt']);
    expect(existsSync(join(t.root, 'Verzeichnis mit Ümlaut'))).toBe(false);
  });

  it('a wrong password raises error_perm 530', async () => {
    const t = server();
    const script = String.raw`
f = ftplib.FTP()
f.connect(cfg['host'], cfg['port'], timeout=30)
try:
    f.login('alice', 'wrong')
    out({'error': None})
except ftplib.error_perm as e:
    out({'error': str(e)})
`;
    const res = pythonOutput<{ error: string | null }>(expectSuccess(await python(script, pythonConfig(t, 'plain'))));
    expect(res.error).toMatch(/^530 /);
  });
});

describe('ftplib.FTP_TLS, explicit FTPS (TLS required for login)', () => {
  const server = withServer({ tlsRequired: 'login' });

  it('session-reusing FTP_TLS, protected data, passive', () => roundTrip(server(), 'explicit', 'prot-p.bin'));

  it('session-reusing FTP_TLS, protected data, active (EPRT/PORT, server is the TLS server)', () =>
    roundTrip(server(), 'explicit', 'prot-p-active.bin', { pasv: false }));

  it('TLS 1.2, protected data, passive and active', async () => {
    await roundTrip(server(), 'explicit', 'tls12.bin', { tlsMax: '1.2' });
    await roundTrip(server(), 'explicit', 'tls12-active.bin', { tlsMax: '1.2', pasv: false });
  });

  it('CCC, then protected data resuming the session saved before CCC', async () => {
    const res = await roundTrip(server(), 'explicit', 'ccc-prot-p.bin', { ccc: true });
    expect(res.controlTls).toBe(false);
  });

  it('stock FTP_TLS (no session reuse) gets 425, and the session goes on', async () => {
    const t = server();
    await writeFile(join(t.root, 'refused.txt'), 'never sent\n');
    const script = String.raw`
f = open_ftp('stock')
data = bytearray()
try:
    f.retrbinary('RETR refused.txt', data.extend)
    failure = None
except Exception as e:
    failure = type(e).__name__ + ': ' + str(e)
try:
    reply = f.getresp()
except ftplib.Error as e:
    reply = str(e)
noop = f.voidcmd('NOOP')
f.quit()
out({'failure': failure, 'reply': reply, 'received': len(data), 'noop': noop})
`;
    const res = pythonOutput<{ failure: string | null; reply: string; received: number; noop: string }>(
      expectSuccess(await python(script, pythonConfig(t, 'stock'))),
    );
    expect(res.failure).not.toBeNull();
    expect(res.reply).toMatch(/^425 .*TLS session reuse required/);
    expect(res.received).toBe(0);
    expect(res.noop).toMatch(/^200 /);
  });

  it('plain FTP login is refused with 530', async () => {
    const t = server();
    const script = String.raw`
f = ftplib.FTP()
f.connect(cfg['host'], cfg['port'], timeout=30)
try:
    f.login(cfg['user'], cfg['password'])
    out({'error': None})
except ftplib.error_perm as e:
    out({'error': str(e)})
`;
    const res = pythonOutput<{ error: string | null }>(expectSuccess(await python(script, pythonConfig(t, 'plain'))));
    expect(res.error).toMatch(/^530 /);
  });
});

// Clear data after a TLS login is the admin's opt-out (hardening/clear-data.test.ts has the default).
describe('FTP_TLS with clear data (dataProtection: optional)', () => {
  const server = withServer({ tlsRequired: 'login', dataProtection: 'optional' });

  it('PROT C: clear data after a TLS login', () => roundTrip(server(), 'explicit', 'prot-c.bin', { prot: 'C' }));

  it('CCC, then clear data, active', async () => {
    const res = await roundTrip(server(), 'explicit', 'ccc-clear.bin', { ccc: true, prot: 'C', pasv: false });
    expect(res.controlTls).toBe(false);
  });
});

describe('ftplib.FTP_TLS, explicit FTPS (TLS required for everything)', () => {
  const server = withServer({ tlsRequired: 'all' });

  it('protected data, passive and active', async () => {
    await roundTrip(server(), 'explicit', 'all.bin');
    await roundTrip(server(), 'explicit', 'all-active.bin', { pasv: false });
  });

  it('PROT C is refused with 534', async () => {
    const t = server();
    const script = String.raw`
f = open_ftp()
try:
    f.prot_c()
    out({'error': None})
except ftplib.error_perm as e:
    out({'error': str(e)})
`;
    const res = pythonOutput<{ error: string | null }>(expectSuccess(await python(script, pythonConfig(t, 'explicit'))));
    expect(res.error).toMatch(/^534 /);
  });
});

describe('ftplib, implicit FTPS', () => {
  const server = withServer({ tlsRequired: 'login', implicit: true });

  it('TLS before the greeting, protected data, passive', () => roundTrip(server(), 'implicit', 'implicit.bin'));

  it('TLS before the greeting, protected data, active', () =>
    roundTrip(server(), 'implicit', 'implicit-active.bin', { pasv: false }));
});

describe('ftplib MLSD', () => {
  const server = withServer({ tlsRequired: 'login' });

  it('mlsd() parses names with spaces and UTF-8 and the type, size, modify facts', async () => {
    const t = server();
    await mkdir(join(t.root, 'listing', 'sub dir'), { recursive: true });
    await writeFile(join(t.root, 'listing', 'a file.txt'), 'x'.repeat(1234));
    await writeFile(join(t.root, 'listing', 'Grüße 🌍.bin'), Buffer.alloc(7));
    await utimes(join(t.root, 'listing', 'a file.txt'), new Date('2024-02-29T12:34:56Z'), new Date('2024-02-29T12:34:56Z'));
    const script = String.raw`
f = open_ftp()
entries = sorted(f.mlsd('listing', facts=['type', 'size', 'modify']))
f.quit()
out(entries)
`;
    const entries = pythonOutput<[string, Record<string, string>][]>(
      expectSuccess(await python(script, pythonConfig(t, 'explicit'))),
    );
    const byName = Object.fromEntries(entries);
    expect(Object.keys(byName).sort()).toEqual(['Grüße 🌍.bin', 'a file.txt', 'sub dir']);
    expect(byName['a file.txt']).toMatchObject({ type: 'file', size: '1234', modify: '20240229123456' });
    expect(byName['Grüße 🌍.bin']).toMatchObject({ type: 'file', size: '7' });
    expect(byName['sub dir']).toMatchObject({ type: 'dir' });
    expect(byName['sub dir']!.size).toBeUndefined();
  });
});

describe.skipIf(!hasV6)('ftplib over IPv6 (::1)', () => {
  const server = withServer({ tlsRequired: 'off', host: '::1', implicit: true });

  it('plain FTP, passive (EPSV) and active (EPRT |2|)', async () => {
    await roundTrip(server(), 'plain', 'v6.bin');
    await roundTrip(server(), 'plain', 'v6-active.bin', { pasv: false });
  });

  it('explicit FTPS, protected data, passive and active', async () => {
    await roundTrip(server(), 'explicit', 'v6-prot-p.bin');
    await roundTrip(server(), 'explicit', 'v6-prot-p-active.bin', { pasv: false });
  });

  it('implicit FTPS', () => roundTrip(server(), 'implicit', 'v6-implicit.bin'));

  it('PASV is refused over IPv6 (ftplib then needs EPSV)', async () => {
    const t = server();
    const script = String.raw`
f = open_ftp('plain')
try:
    f.sendcmd('PASV')
    out({'error': None})
except ftplib.Error as e:
    out({'error': str(e)})
`;
    const res = pythonOutput<{ error: string | null }>(expectSuccess(await python(script, pythonConfig(t, 'plain'))));
    expect(res.error).toMatch(/^425 .*EPSV/);
  });
});

describe('python client failures are visible', () => {
  it('a script error is a non-zero exit', async () => {
    expectFailure(await python('raise SystemExit(3)', { host: '127.0.0.1', port: 1, mode: 'plain' }));
  });
});
