/**
 * The embedding example of docs/embedding.md is true: this test takes the block after the
 * `embedding-example` marker, checks it is a short server with a custom authenticator, and runs it as
 * written, except for the port (a free one instead of 2121), with a real FTPS client.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from 'basic-ftp';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

async function snippet(): Promise<string> {
  const doc = await readFile(join(REPO, 'docs', 'embedding.md'), 'utf8');
  const m = /<!-- embedding-example: test\/api\/embedding-doc\.test\.ts runs this block -->\n```ts\n([\s\S]*?)```\n/.exec(doc);
  if (!m) throw new Error('docs/embedding.md has no embedding-example block');
  return m[1]!;
}

describe('docs/embedding.md: the example', () => {
  it('the example is at most 15 lines, imports ftpsd and has its own authenticator', async () => {
    const code = await snippet();
    expect(code.trimEnd().split('\n').length).toBeLessThanOrEqual(15);
    expect(code).toMatch(/^import \{[^}]*\bcreateServer\b[^}]*\} from 'ftpsd';$/m);
    expect(code).toMatch(/authenticator: \{\n\s+async login\(/);
  });

  it('runs: an FTPS server that lets demo/demo in and serves hello.txt; SIGINT closes it', async () => {
    const code = await snippet();
    expect(code.split("'127.0.0.1:2121'").length).toBe(2);
    const dir = await mkdtemp(join(tmpdir(), 'ftpsd-embedding-doc-'));
    // .mts: an ES module wherever it is (the example uses top-level await, as an ESM project would).
    const file = join(dir, 'embedding.mts');
    await writeFile(file, code.replace("'127.0.0.1:2121'", "'127.0.0.1:0'"));
    // From the repository root, tsx maps 'ftpsd' to the source (tsconfig.json paths), as an install maps it to dist.
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const check = () => {
          const m = /FTPS on port (\d+): user demo, password demo/.exec(out);
          if (m) resolve(Number(m[1]));
        };
        child.stdout.on('data', check);
        void exited.then(() => reject(new Error(`the example exited: ${out}${err}`)));
      });
      const client = new Client(15_000);
      await client.access({ host: '127.0.0.1', port, user: 'demo', password: 'demo', secure: true, secureOptions: { rejectUnauthorized: false } });
      expect((await client.list()).map((f) => f.name)).toEqual(['hello.txt']);
      const chunks: Buffer[] = [];
      await client.downloadTo(new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) }), 'hello.txt');
      expect(Buffer.concat(chunks).toString()).toBe('Hello from ftpsd!\n');
      client.close();
      const other = new Client(15_000);
      await expect(other.access({ host: '127.0.0.1', port, user: 'demo', password: 'nope', secure: true, secureOptions: { rejectUnauthorized: false } })).rejects.toThrow(/530/);
      other.close();
      child.kill('SIGINT');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(err).toBe('');
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
