/**
 * The program of a cluster worker process (the primary forks it with node:cluster's `exec`): it runs
 * worker.ts directly, without the command line (commander and the option table built from the config
 * schema). The flags come from the primary in its init message, with the checked config.
 */
import { readFileSync } from 'node:fs';
import { runWorker } from './worker.js';

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

await runWorker({ version });
