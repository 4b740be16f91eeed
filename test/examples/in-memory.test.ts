/**
 * examples/in-memory.ts: the in-memory test server, used the way its comment shows (imported by a
 * test), and run as a program.
 */
import { Readable, Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestFtpServer, type TestFtpServer } from '../../examples/in-memory.js';
import { runExample } from './run.js';

let ftp: TestFtpServer | undefined;
afterEach(async () => {
  await ftp?.close();
  ftp = undefined;
});

describe('examples/in-memory.ts', () => {
  it('serves the given files from memory and shows what a client uploaded', async () => {
    ftp = await startTestFtpServer({ 'in/orders.csv': 'id,qty\n1,2\n', 'in/empty': {} });
    const client = new Client(15_000);
    await client.access({ host: ftp.host, port: ftp.port, user: ftp.user, password: ftp.password });
    const chunks: Buffer[] = [];
    await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }), 'in/orders.csv');
    expect(Buffer.concat(chunks).toString()).toBe('id,qty\n1,2\n');
    await client.ensureDir('/out');
    await client.uploadFrom(Readable.from([Buffer.from('2 items\n')]), 'report.txt');
    client.close();
    expect(await ftp.read('out/report.txt')).toBe('2 items\n');
    expect(await ftp.paths()).toEqual(['in/', 'in/empty/', 'in/orders.csv', 'out/', 'out/report.txt']);
    await expect(new Client().access({ host: ftp.host, port: ftp.port, user: 'test', password: 'wrong' })).rejects.toThrow(/530/);
  });

  it('each server is its own: two at once do not share files', async () => {
    const a = await startTestFtpServer({ 'a.txt': 'a' });
    const b = await startTestFtpServer({ 'b.txt': 'b' });
    try {
      expect(a.port).not.toBe(b.port);
      expect(await a.paths()).toEqual(['a.txt']);
      expect(await b.paths()).toEqual(['b.txt']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('runs as a program', async () => {
    const ex = await runExample('in-memory.ts');
    try {
      const client = new Client(15_000);
      await client.access({ host: '127.0.0.1', port: ex.port, user: 'test', password: 'test' });
      await client.uploadFrom(Readable.from([Buffer.from('abc')]), 'uploads/x.bin');
      expect((await client.list('/')).map((f) => f.name).sort()).toEqual(['hello.txt', 'uploads']);
      client.close();
      await ex.waitFor(/^uploaded \/uploads\/x\.bin \(3 bytes\)$/);
    } finally {
      expect(await ex.stop()).toBe(0);
    }
  });
});
