/**
 * The command sequence FileZilla (3.x) sends after connecting, replayed with the raw client, so ftpsd's
 * replies to the most common GUI client are pinned down: AUTH TLS, USER, PASS, SYST, FEAT, OPTS UTF8 ON,
 * PBSZ 0, PROT P, OPTS MLST, PWD, TYPE I, PASV (EPSV over IPv6), MLSD; then a download (RETR) and an upload
 * (STOR, then MFMT to keep the file time, which FileZilla does when the server announces MFMT). Every
 * data connection is TLS resuming the control connection's session, as FileZilla's are.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, readAll, writeAll } from '../helpers/raw-client.js';
import { PASS, USER, startServer, type TestServer, type TestServerOptions } from '../helpers/server.js';
import { ipv6Cases } from './helpers.js';

const hasV6 = await ipv6Cases();

interface Variant {
  name: string;
  options: TestServerOptions;
  /** Implicit FTPS: TLS before the greeting, no AUTH. */
  implicit?: boolean;
  /** FileZilla uses EPSV on IPv6, PASV on IPv4. */
  epsv?: boolean;
}

const variants: Variant[] = [
  { name: 'explicit FTPS, TLS required for login', options: { tlsRequired: 'login' } },
  { name: 'explicit FTPS, TLS required for everything', options: { tlsRequired: 'all' } },
  { name: 'implicit FTPS', options: { tlsRequired: 'login', implicit: true }, implicit: true },
  ...(hasV6 ? [{ name: 'explicit FTPS over IPv6', options: { tlsRequired: 'login' as const, host: '::1' }, epsv: true }] : []),
];

describe.each(variants)('FileZilla session: $name', (variant) => {
  let t: TestServer;
  let c: RawClient;
  const payload = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255));

  beforeAll(async () => {
    t = await startServer(variant.options);
    await writeFile(join(t.root, 'Download me.bin'), payload);
  });
  afterAll(async () => {
    c?.close();
    await t.close();
  });

  /** PASV or EPSV, then the transfer command, then TLS on the data connection, then 150. */
  async function open(command: string): Promise<TLSSocket> {
    const raw = variant.epsv ? await c.epsv() : await c.pasv();
    c.send(command);
    const data = await c.protect(raw);
    await c.expect(150);
    return data;
  }

  it('connects, logs in and negotiates like FileZilla', async () => {
    c = await RawClient.connect(variant.implicit ? t.implicitPort! : t.port, t.host, { implicit: variant.implicit ?? false });
    if (!variant.implicit) await c.auth('TLS');
    await c.expectCmd(`USER ${USER}`, 331);
    await c.expectCmd(`PASS ${PASS}`, 230);
    await c.expectCmd('SYST', 215, /^215 UNIX Type: L8$/);
    const feat = await c.expectCmd('FEAT', 211);
    const features = feat.lines.slice(1, -1).map((l) => l.trim());
    for (const f of ['AUTH TLS', 'PBSZ', 'PROT', 'UTF8', 'EPSV', 'MDTM', 'MFMT', 'SIZE', 'REST STREAM']) expect(features).toContain(f);
    expect(features.some((f) => f.startsWith('MLST ') && f.includes('size*') && f.includes('modify*'))).toBe(true);
    expect(feat.lines[0]).toMatch(/^211-/);
    expect(feat.lines[feat.lines.length - 1]).toMatch(/^211 /);
    await c.expectCmd('OPTS UTF8 ON', 200);
    await c.expectCmd('PBSZ 0', 200);
    await c.expectCmd('PROT P', 200);
    await c.expectCmd('OPTS MLST type;size;modify;perm;unix.mode;unix.owner;unix.group;', 200, /type;size;modify;perm;UNIX\.mode;/);
    await c.expectCmd('PWD', 257, /^257 "\/" /);
    await c.expectCmd('TYPE I', 200);
  });

  it('lists the directory with MLSD over a protected data connection', async () => {
    const data = await open('MLSD');
    const text = (await readAll(data)).toString('utf8');
    await c.expect(226);
    const lines = text.split('\r\n').filter(Boolean);
    expect(text.endsWith('\r\n')).toBe(true);
    const entry = lines.find((l) => l.endsWith(' Download me.bin'));
    expect(entry).toMatch(/^type=file;size=300000;modify=\d{14};perm=[a-z]+;UNIX\.mode=0\d+; Download me\.bin$/);
  });

  it('downloads a file (RETR)', async () => {
    await c.expectCmd('SIZE Download me.bin', 213, /^213 300000$/);
    await c.expectCmd('MDTM Download me.bin', 213, /^213 \d{14}$/);
    const data = await open('RETR Download me.bin');
    const got = await readAll(data);
    await c.expect(226);
    expect(got.equals(payload)).toBe(true);
  });

  it('uploads a file (STOR) and sets its time (MFMT)', async () => {
    const data = await open('STOR Uploaded by FZ ✓.bin');
    await writeAll(data, payload);
    await c.expect(226);
    expect((await readFile(join(t.root, 'Uploaded by FZ ✓.bin'))).equals(payload)).toBe(true);
    await c.expectCmd('MFMT 20200102030405 Uploaded by FZ ✓.bin', 213, /^213 Modify=20200102030405; /);
    expect((await stat(join(t.root, 'Uploaded by FZ ✓.bin'))).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
  });

  it('lists again and quits', async () => {
    const data = await open('MLSD');
    const names = (await readAll(data))
      .toString('utf8')
      .split('\r\n')
      .filter(Boolean)
      .map((l) => l.slice(l.indexOf(' ') + 1))
      .sort();
    await c.expect(226);
    expect(names).toEqual(['Download me.bin', 'Uploaded by FZ ✓.bin']);
    await c.expectCmd('QUIT', 221);
    expect(await c.waitClosed()).toBe(true);
  });
});
