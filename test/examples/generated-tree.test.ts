/**
 * examples/generated-tree.ts: a read-only Storage that makes a million files up on the fly. Listings
 * stream (a client that stops reading stops the generation), files have their computed content, every
 * change is refused.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import { describe, expect, it } from 'vitest';
import { NumbersStorage, startNumbersServer } from '../../examples/generated-tree.js';
import type { FileStat, VirtualPath } from '../../src/index.js';
import { RawClient } from '../helpers/raw-client.js';
import { runExample } from './run.js';

/** Counts the entries the listing has pulled so far. */
class CountingNumbers extends NumbersStorage {
  generated = 0;
  override async *list(path: VirtualPath): AsyncIterable<FileStat> {
    for await (const entry of super.list(path)) {
      this.generated++;
      yield entry;
    }
  }
}

describe('examples/generated-tree.ts', () => {
  it('LIST /numbers streams a million lines; while the client does not read, generation stops', async () => {
    const storage = new CountingNumbers();
    const { server, port } = await startNumbersServer('127.0.0.1:0', storage);
    try {
      const c = await RawClient.connect(port);
      await c.login('anonymous', 'guest');
      const data = await c.epsv();
      data.pause();
      c.send('LIST /numbers');
      await c.expect(150);
      // The client reads nothing: the server fills the socket buffers, then must wait for the client.
      let before = -1;
      while (before !== storage.generated) {
        before = storage.generated;
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(storage.generated).toBeLessThan(storage.count);
      let lines = 0;
      let first = '';
      data.on('data', (chunk: Buffer) => {
        if (first === '') first = chunk.toString('latin1', 0, chunk.indexOf(10));
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      });
      data.resume();
      await once(data, 'end');
      await c.expect(226);
      expect(lines).toBe(1_000_000);
      expect(storage.generated).toBe(1_000_000);
      expect(first).toMatch(/^-r--r--r-- +1 \S+ +\S+ +\d+ Jan {1,2}1 {2}2024 1\r$/);
      c.close();
    } finally {
      await server.close();
    }
  });

  it('runs as a program: files have their computed content, SIZE and HASH work, changes are refused', async () => {
    const ex = await runExample('generated-tree.ts');
    try {
      const client = new Client(15_000);
      await client.access({ host: '127.0.0.1', port: ex.port, user: 'anonymous', password: 'guest@' });
      expect((await client.list('/')).map((f) => [f.name, f.isDirectory])).toEqual([
        ['README.txt', false],
        ['numbers', true],
      ]);
      const chunks: Buffer[] = [];
      await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }), '/numbers/1000000');
      expect(Buffer.concat(chunks).toString()).toBe(NumbersStorage.content(1_000_000).toString());
      expect(Buffer.concat(chunks).toString()).toContain('square: 1000000000000\n');
      expect(await client.size('/numbers/42')).toBe(NumbersStorage.content(42).length);
      await expect(client.size('/numbers/1000001')).rejects.toThrow(/550/);
      await expect(client.size('/numbers/042')).rejects.toThrow(/550/);
      await expect(client.uploadFrom(Readable.from([Buffer.from('x')]), '/numbers/7')).rejects.toThrow(/550/);
      await expect(client.remove('/numbers/7')).rejects.toThrow(/550/);
      await expect(client.ensureDir('/new')).rejects.toThrow(/550/);
      const hash = await client.send('HASH /numbers/42');
      expect(hash.message).toMatch(/^213 SHA-256 0-\d+ [0-9a-f]{64} \/numbers\/42$/);
      client.close();

      const curl = spawn('curl', ['-sS', `ftp://127.0.0.1:${ex.port}/numbers/7`]);
      let out = '';
      curl.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      expect((await once(curl, 'exit'))[0]).toBe(0);
      expect(out).toBe('number: 7\nsquare: 49\nhex: 7\nbinary: 111\nodd\n');
    } finally {
      expect(await ex.stop()).toBe(0);
    }
  });
});
