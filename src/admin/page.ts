/**
 * The web page's files: built by `npm run build` (scripts/build-admin-ui.mjs, from ui/admin/) into
 * dist/admin-ui/, read once at start. Missing files (a source checkout without a build) give a page
 * that says so.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** Where the built page is, next to dist/admin/ (or under dist/ when run from src/ by tsx). */
function uiDir(): URL[] {
  return [new URL('../admin-ui/', import.meta.url), new URL('../../dist/admin-ui/', import.meta.url)];
}

export interface PageFile {
  type: string;
  body: Buffer;
}

export function loadPage(): Map<string, PageFile> {
  const files = new Map<string, PageFile>();
  for (const [name, type] of Object.entries(TYPES)) {
    for (const dir of uiDir()) {
      try {
        files.set(name, { type, body: readFileSync(fileURLToPath(new URL(name, dir))) });
        break;
      } catch {
        // try the next place
      }
    }
  }
  if (!files.has('index.html')) {
    files.set('index.html', { type: TYPES['index.html']!, body: Buffer.from('<!doctype html><title>ftpsd admin</title><p>The web page is not built: run <code>npm run build</code>. The API is at /api.</p>') });
  }
  return files;
}
