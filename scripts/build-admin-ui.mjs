// Builds the admin console's web page (ui/admin/) into dist/admin-ui/: type-checks main.ts, bundles it
// with esbuild (no CDN, works offline), and copies the HTML and CSS. Part of `npm run build`.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(repo, 'ui/admin');
const out = join(repo, 'dist/admin-ui');
execFileSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
mkdirSync(out, { recursive: true });
await build({ entryPoints: [join(src, 'main.ts')], outfile: join(out, 'app.js'), bundle: true, minify: true, format: 'esm', target: 'es2022', logLevel: 'warning' });
for (const name of ['index.html', 'app.css']) copyFileSync(join(src, name), join(out, name));
