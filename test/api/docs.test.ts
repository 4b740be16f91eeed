/**
 * The API reference: `npm run docs:api` (TypeDoc, warnings are errors) renders both entry points, and
 * the embedding API's exports carry TSDoc comments.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
let out: string | undefined;
afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

interface Reflection {
  name: string;
  comment?: { summary: unknown[] };
  signatures?: { comment?: { summary: unknown[] } }[];
  children?: Reflection[];
}

describe('npm run docs:api', () => {
  it('renders the reference of ftpsd and ftpsd/testing without warnings; the embedding API is documented', async () => {
    out = await mkdtemp(join(tmpdir(), 'ftpsd-docs-'));
    const typedoc = join(REPO, 'node_modules', 'typedoc', 'bin', 'typedoc');
    await run(process.execPath, [typedoc, '--out', join(out, 'html'), '--json', join(out, 'api.json')], { cwd: REPO, maxBuffer: 16 * 1024 * 1024 });
    expect(existsSync(join(out, 'html', 'index.html'))).toBe(true);
    expect(await readFile(join(out, 'html', 'functions', 'index.createServer.html'), 'utf8')).toContain('Makes an FTP/FTPS server');
    const project = JSON.parse(await readFile(join(out, 'api.json'), 'utf8')) as Reflection;
    // TypeDoc names the second module `testing` or `testing/index` depending on how it resolves the entry point.
    expect(project.children!.map((m) => m.name.replace(/\/index$/, '')).sort()).toEqual(['index', 'testing']);
    const documented = (r: Reflection) => (r.comment?.summary.length ?? 0) > 0 || (r.signatures?.[0]?.comment?.summary.length ?? 0) > 0;
    const all = new Map(project.children!.flatMap((m) => m.children ?? []).map((r) => [r.name, r]));
    const key = [
      'createServer', 'FtpsdServer', 'ServerOptions', 'ListenOption', 'UserOption', 'TlsOption', 'StorageOption', 'ListeningAddresses',
      'Session', 'SessionList', 'ConfigError', 'ConfigIssue', 'Authenticator', 'LoginRequest', 'LoginResult', 'Permissions',
      'Storage', 'FileStat', 'Upload', 'MemoryStorage', 'checksumByReading', 'defineCommand', 'defineSiteCommand', 'CommandSpec',
      'SiteCommandSpec', 'CommandContext', 'reply', 'ServerEvents', 'ServerEventMap', 'CHANNELS', 'CommandTrace', 'TransferTrace',
      'SessionTrace', 'storageContract', 'StorageFixture',
    ];
    expect(key.filter((name) => !all.has(name)), 'not exported').toEqual([]);
    expect(key.filter((name) => !documented(all.get(name)!)), 'without a TSDoc comment').toEqual([]);
  }, 180_000);
});
