/**
 * basic-ftp (Node, in-process) against a real ftpsd: list, upload, download, rename, remove, mkdir and
 * rmdir over plain FTP, explicit FTPS (TLS for login, TLS for everything), implicit FTPS, IPv4 and IPv6.
 * basic-ftp is passive only (EPSV, PASV fallback) and resumes the control TLS session on data
 * connections; it lists with MLSD because FEAT announces MLST.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { FileType } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import type { TestServer } from '../helpers/server.js';
import { basicFtp } from './clients.js';
import { ipv6Cases, MiB, sha256, sha256File, withLocalFile, withServer, type Mode } from './helpers.js';

const hasV6 = await ipv6Cases();

const file = withLocalFile(2 * MiB + 3);

/** The whole file-operations tour; every step checked against the disk. */
async function fileOperations(t: TestServer, mode: Mode): Promise<void> {
  const client = await basicFtp(t, mode);
  try {
    if (mode !== 'plain') expect(client.ftp.socket.constructor.name).toBe('TLSSocket');
    const dir = `dir ${mode}/sub ü`;
    await client.ensureDir(dir); // MKD each level, then CWD into it
    expect(await client.pwd()).toBe(`/${dir}`);
    expect(existsSync(join(t.root, `dir ${mode}`, 'sub ü'))).toBe(true);

    await client.uploadFrom(file.path, 'upload one.bin');
    expect(await sha256File(join(t.root, dir, 'upload one.bin'))).toBe(file.hash);
    await client.uploadFrom(Readable.from([Buffer.from('small\r\nfile\n')]), 'small.txt');
    expect(await readFile(join(t.root, dir, 'small.txt'), 'utf8')).toBe('small\r\nfile\n');

    const listed = await client.list();
    const byName = new Map(listed.map((f) => [f.name, f]));
    expect([...byName.keys()].sort()).toEqual(['small.txt', 'upload one.bin']);
    expect(byName.get('upload one.bin')!.size).toBe(2 * MiB + 3);
    expect(byName.get('upload one.bin')!.type).toBe(FileType.File);
    expect(await client.size('upload one.bin')).toBe(2 * MiB + 3);

    const back = join(file.work.path, `back-${mode}.bin`);
    await client.downloadTo(back, 'upload one.bin');
    expect(await sha256File(back)).toBe(file.hash);

    await client.rename('upload one.bin', '../renamed ✓.bin');
    expect(existsSync(join(t.root, dir, 'upload one.bin'))).toBe(false);
    expect(await sha256File(join(t.root, `dir ${mode}`, 'renamed ✓.bin'))).toBe(file.hash);

    await client.remove('small.txt');
    expect(existsSync(join(t.root, dir, 'small.txt'))).toBe(false);

    await client.cd('/');
    const top = await client.list(`dir ${mode}`);
    expect(top.map((f) => `${f.name}:${f.type}`).sort()).toEqual([`renamed ✓.bin:${FileType.File}`, `sub ü:${FileType.Directory}`]);

    await client.removeDir(`dir ${mode}`); // recursive: deletes files, then RMDs
    expect(existsSync(join(t.root, `dir ${mode}`))).toBe(false);
  } finally {
    client.close();
  }
}

describe('basic-ftp, plain FTP', () => {
  const server = withServer({ tlsRequired: 'off' });

  it('list, upload, download, rename, remove, mkdir, rmdir', () => fileOperations(server(), 'plain'));

  it('a missing file is an FTPError 550', async () => {
    const client = await basicFtp(server(), 'plain');
    try {
      await expect(client.downloadTo(join(file.work.path, 'never'), 'missing.bin')).rejects.toMatchObject({ code: 550 });
    } finally {
      client.close();
    }
  });
});

describe('basic-ftp, explicit FTPS (TLS required for login)', () => {
  const server = withServer({ tlsRequired: 'login' });

  it('list, upload, download, rename, remove, mkdir, rmdir', () => fileOperations(server(), 'explicit'));

  it('many data connections in a row all resume the control session', async () => {
    const t = server();
    await writeFile(join(t.root, 'ten.txt'), '0123456789');
    const client = await basicFtp(t, 'explicit');
    try {
      for (let i = 0; i < 10; i++) {
        const chunks: Buffer[] = [];
        const sink = new Writable({
          write(chunk: Buffer, _e, cb) {
            chunks.push(chunk);
            cb();
          },
        });
        await client.downloadTo(sink, 'ten.txt');
        expect(Buffer.concat(chunks).toString()).toBe('0123456789');
        expect((await client.list()).map((f) => f.name)).toContain('ten.txt');
      }
    } finally {
      client.close();
    }
  });

  it('plain FTP is refused before login', async () => {
    await expect(basicFtp(server(), 'plain')).rejects.toMatchObject({ code: 530 });
  });
});

describe('basic-ftp, explicit FTPS (TLS required for everything)', () => {
  const server = withServer({ tlsRequired: 'all' });

  it('list, upload, download, rename, remove, mkdir, rmdir', () => fileOperations(server(), 'explicit'));
});

describe('basic-ftp, implicit FTPS', () => {
  const server = withServer({ tlsRequired: 'login', implicit: true });

  it('list, upload, download, rename, remove, mkdir, rmdir', () => fileOperations(server(), 'implicit'));
});

describe.skipIf(!hasV6)('basic-ftp over IPv6 (::1)', () => {
  const server = withServer({ tlsRequired: 'off', host: '::1', implicit: true });

  it('plain FTP (EPSV)', () => fileOperations(server(), 'plain'));

  it('explicit FTPS', () => fileOperations(server(), 'explicit'));

  it('implicit FTPS', () => fileOperations(server(), 'implicit'));

  it('uploads from memory and reads back exact bytes', async () => {
    const t = server();
    const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    const client = await basicFtp(t, 'explicit');
    try {
      await client.uploadFrom(Readable.from([data]), 'v6-mem.bin');
    } finally {
      client.close();
    }
    expect(sha256(await readFile(join(t.root, 'v6-mem.bin')))).toBe(sha256(data));
  });
});
