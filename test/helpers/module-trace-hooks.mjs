// The loader hooks of module-trace.mjs (they run on the loader's thread; process.pid is the process's).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const file = join(process.env.MODULE_TRACE_DIR ?? '.', `${process.pid}.txt`);

export async function load(url, context, next) {
  if (!url.startsWith('node:')) appendFileSync(file, `${url}\n`);
  return next(url, context);
}
