/**
 * The package as users get it: `npm pack` of a fresh build, installed into an empty project, where an
 * ESM script imports `ftpsd` and `ftpsd/testing`, starts a server and logs in with basic-ftp, and tsc
 * compiles a TypeScript file against the shipped declarations (with a deliberate type error that must
 * be caught). Also: `files` in package.json ships what is needed and nothing more.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');

let work: string;
let tarball: string;
let app: string;

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
  return stdout;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ftpsd-pack-'));
  // A fresh build into a copy of the package (never the repository's own dist/, which other runs use).
  const pkg = join(work, 'pkg');
  await mkdir(pkg);
  await run(process.execPath, [TSC, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: REPO });
  for (const f of ['package.json', 'README.md', 'LICENSE']) await copyFile(join(REPO, f), join(pkg, f));
  const packed = JSON.parse(await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], pkg)) as { filename: string }[];
  tarball = join(work, packed[0]!.filename);
  app = join(work, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }, null, 2));
  const basicFtp = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['basic-ftp']!;
  await npm(['install', tarball, `basic-ftp@${basicFtp}`, '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], app);
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the compiled code, its declarations, the admin page, the README and the LICENSE: nothing else', async () => {
    const listed = JSON.parse(await npm(['pack', '--dry-run', '--json', '--ignore-scripts'], REPO)) as { files: { path: string }[] }[];
    const paths = listed[0]!.files.map((f) => f.path);
    const unexpected = paths.filter((p) => !['package.json', 'README.md', 'LICENSE'].includes(p) && !/^dist\/.+\.(js|d\.ts)$/.test(p) && !/^dist\/admin-ui\/[\w.-]+\.(html|css|js)$/.test(p));
    expect(unexpected).toEqual([]);
    // The admin page (--admin-listen) is served from the package: built by `npm run build`.
    for (const f of ['dist/admin-ui/index.html', 'dist/admin-ui/app.css']) expect(paths).toContain(f);
    const installed = join(app, 'node_modules', 'ftpsd');
    const top = (await readdir(installed)).sort();
    expect(top).toEqual(['LICENSE', 'README.md', 'dist', 'package.json']);
    expect(await readFile(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(paths).toContain('LICENSE');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/testing/index.d.ts', 'dist/cli/main.js']) {
      await expect(readFile(join(installed, f)), f).resolves.toBeDefined();
    }
    const all = await readdir(join(installed, 'dist'), { recursive: true });
    expect(all.filter((f) => f.endsWith('.map') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('an ESM program imports ftpsd and ftpsd/testing, runs the contract, serves FTPS and a client logs in', async () => {
    await writeFile(
      join(app, 'smoke.mjs'),
      `
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { createServer, ConfigError, MemoryStorage, readWrite } from 'ftpsd';
import { storageContract } from 'ftpsd/testing';

const cases = storageContract(async () => ({ storage: new MemoryStorage() }));
let failed = 0;
for (const c of cases) await c.run().catch(() => failed++);

let configError = '';
try { createServer({ listen: '127.0.0.1:70000', tlsRequired: 'off', authenticator: { login: async () => null } }); }
catch (err) { configError = err instanceof ConfigError ? err.message : String(err); }

const storage = new MemoryStorage({ 'hello.txt': 'hi' });
const server = createServer({
  listen: { host: '127.0.0.1', port: 0 },
  tls: 'self-signed',
  authenticator: { login: async ({ user, password }) => (user === 'u' && password === 'p' ? { storage, permissions: readWrite } : null) },
});
const uploads = [];
server.on('upload', (e) => uploads.push(e.path));
const { explicit } = await server.listen();
const client = new Client(15000);
await client.access({ host: '127.0.0.1', port: explicit[0].port, user: 'u', password: 'p', secure: true, secureOptions: { rejectUnauthorized: false } });
await client.uploadFrom(Readable.from([Buffer.from('up')]), 'up.txt');
const names = (await client.list()).map((f) => f.name).sort();
client.close();
const sessions = server.sessions.size;
await server.close();
console.log(JSON.stringify({ cases: cases.length, failed, configError, names, uploads, sessions }));
`,
    );
    const { stdout } = await run(process.execPath, ['smoke.mjs'], { cwd: app, timeout: 120_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(result).toMatchObject({ failed: 0, configError: 'listen[0]: port must be <= 65535', names: ['hello.txt', 'up.txt'], uploads: ['/up.txt'] });
    expect(result.cases).toBeGreaterThan(40);
  });

  it('TypeScript compiles against the shipped declarations, and catches a wrong option', async () => {
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules', '@types')],
        },
        files: ['check.ts'],
      }),
    );
    const good = `
import { createServer, defineCommand, reply, MemoryStorage, readOnly, type Authenticator, type ServerOptions, type Session, type Storage } from 'ftpsd';
import { storageContract, type StorageFixture } from 'ftpsd/testing';

const storage: Storage = new MemoryStorage({ 'a.txt': 'a' });
const authenticator: Authenticator = { login: async () => ({ storage, permissions: readOnly }) };
const options: ServerOptions = { listen: '127.0.0.1:0', tls: 'self-signed', authenticator, commands: [defineCommand({ name: 'X', arg: 'none', access: 'public', help: 'X', handle: () => reply(200, 'x') })] };
const server = createServer(options);
server.on('upload', (e) => e.path.toUpperCase());
const first: Session | undefined = server.sessions.list()[0];
const fixture: () => Promise<StorageFixture> = async () => ({ storage });
const n: number = storageContract(fixture).length;
export { first, n };
`;
    await writeFile(join(app, 'check.ts'), good);
    await expect(run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: app })).resolves.toBeDefined();
    await writeFile(join(app, 'check.ts'), good + `\ncreateServer({ listen: { host: '127.0.0.1', port: '21' }, authenticator });\n`);
    // The declarations were checked above (skipLibCheck: false); this run only needs to see the mistake.
    const failed = await run(process.execPath, [TSC, '-p', 'tsconfig.json', '--skipLibCheck'], { cwd: app }).then(
      () => undefined,
      (err: { stdout: string }) => err.stdout,
    );
    expect(failed).toMatch(/check\.ts\(15,\d+\): error TS2322: Type '\{ host: string; port: string; \}' is not assignable to type 'ListenOption/);
  }, 240_000);

  it('the ftpsd command is installed', async () => {
    const { stdout } = await run(join(app, 'node_modules', '.bin', 'ftpsd'), ['--version'], { cwd: app });
    expect(stdout.trim()).toBe('0.1.0');
  });
});
