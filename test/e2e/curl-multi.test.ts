/**
 * curl with several URLs in one command (one control connection reused, or `-Z` parallel ones sharing one
 * session cache). curl (OpenSSL) uses a TLS 1.3 ticket once and keeps one per host, so under session
 * reuse `require` only some of its protected transfers resume a session of their own control connection
 * (docs/troubleshooting.md); `-Z` starts its connections at once, each with a full handshake, and the
 * shared cache then holds only the last one's ticket, which the others' data connections present (TLS 1.2
 * too). What works, and is tested here: `--tls-max 1.2` without `-Z` (a TLS 1.2 session resumes any
 * number of times), and everything under `sessionReuse: allow`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile, mkdir } from 'node:fs/promises';
import { curl, curlTarget } from './clients.js';
import { expectSuccess, tempDir, withServer, type TempDir } from './helpers.js';

const NAMES = ['f1.txt', 'f2.txt', 'f3.txt', 'f4.txt', 'f5.txt', 'f6.txt'];

describe('curl, several URLs in one command', () => {
  let work: TempDir;
  beforeAll(async () => {
    work = await tempDir('ftpsd-curl-multi-');
  });
  afterAll(() => work?.remove());

  async function fetchAll(t: ReturnType<ReturnType<typeof withServer>>, label: string, extra: string[]): Promise<void> {
    const out = join(work.path, label);
    await mkdir(out, { recursive: true });
    const { args, url } = curlTarget(t, 'explicit');
    expectSuccess(await curl([...args, ...extra, '--output-dir', out, '--remote-name-all', ...NAMES.map((n) => `${url}/multi/${n}`)], { timeoutMs: 60_000 }));
    for (const n of NAMES) expect(await readFile(join(out, n), 'utf8')).toBe(`content of ${n}`);
  }

  for (const reuse of ['require', 'allow'] as const) {
    describe(`sessionReuse: ${reuse}`, () => {
      const server = withServer({ sessionReuse: reuse, tlsRequired: 'login' });
      beforeAll(async () => {
        await mkdir(join(server().root, 'multi'));
        for (const n of NAMES) await writeFile(join(server().root, 'multi', n), `content of ${n}`);
      });

      it('--tls-max 1.2, one after the other on one connection', async () => {
        await fetchAll(server(), `${reuse}-12-seq`, ['--tls-max', '1.2']);
      });

      if (reuse === 'allow') {
        it('TLS 1.2 and 1.3, one after the other and -Z in parallel', async () => {
          await fetchAll(server(), 'allow-12-par', ['--tls-max', '1.2', '-Z']);
          await fetchAll(server(), 'allow-13-seq', []);
          await fetchAll(server(), 'allow-13-par', ['-Z']);
        });
      }
    });
  }
});
