/**
 * What an idle default server loads (issue 15, idle footprint): the cluster's primary none of the FTP
 * code, and no process the operations modules it is not configured for (S3, PostgreSQL, LDAP, ACME,
 * the admin console, metrics), and no worker the config schema (zod: it takes the primary's checked
 * config). Every ES module each process loads is recorded by a preloaded loader
 * hook (test/helpers/module-trace.mjs, through NODE_OPTIONS so the workers inherit it).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Served, assertBuilt, killAll, loopbackArgs, removeTempDirs, tempDir } from './cli.js';

beforeAll(assertBuilt);
afterEach(killAll);
afterAll(removeTempDirs);

const TRACE = new URL('../helpers/module-trace.mjs', import.meta.url).href;

/** Package entry points and our own files that only a configured feature may load. */
const OPTIONAL = [
  /node_modules\/@aws-sdk\//,
  /node_modules\/pg\//,
  /node_modules\/ldapts\//,
  /node_modules\/acme-client\//,
  /node_modules\/prom-client\//,
  /node_modules\/@peculiar\/x509\//,
  /node_modules\/@node-rs\/argon2\//,
  /\/dist\/storage\/s3\//,
  /\/dist\/admin\//,
  /\/dist\/acme\/(service|order|renewer|http-responder|alpn-responder)\.js$/,
  /\/dist\/userdb\/(store|listener)\.js$/,
  /\/dist\/runtime\/(user-db|admin-db)\.js$/,
  /\/dist\/ops\/(metrics|metrics-endpoint)\.js$/,
  /\/dist\/cluster\/cluster-metrics\.js$/,
];

/** The config schema and what only reading a config needs: a worker gets the primary's checked config. */
const SCHEMA = [/node_modules\/zod\//, /\/dist\/config\/(schema|load|sources|file)\.js$/, /\/dist\/policy-options\.js$/];

/** What the primary must not load: the FTP server itself. */
const FTP = [/\/dist\/server\.js$/, /\/dist\/connection\.js$/, /\/dist\/commands\//, /\/dist\/data\//, /\/dist\/protocol\//, /\/dist\/storage\//, /\/dist\/runtime\/serve\.js$/];

async function traces(dir: string): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const name of await readdir(dir)) out.set(Number(name.replace(/\.txt$/, '')), (await readFile(join(dir, name), 'utf8')).split('\n').filter(Boolean));
  return out;
}

const matching = (urls: string[], patterns: RegExp[]) => urls.filter((u) => patterns.some((p) => p.test(u)));

/** A directory whose state holds the generated certificate and account (as every start after the first finds it). */
async function startedOnce(): Promise<string> {
  const dir = await tempDir();
  await (await Served.start([...loopbackArgs(dir)], { cwd: dir })).stop();
  return dir;
}

describe('an idle default server loads only what it is configured for', () => {
  it('cluster mode: a thin primary, and workers without S3, pg, LDAP, ACME, admin, metrics or argon2', async () => {
    const dir = await startedOnce();
    const trace = await tempDir();
    const served = await Served.start([...loopbackArgs(dir)], {
      cwd: dir,
      defaultWorkers: true,
      env: { FTPSD_WORKERS: '2', NODE_OPTIONS: `--import ${TRACE}`, MODULE_TRACE_DIR: trace },
    });
    const pid = served.child.pid!;
    await served.stop();
    const loaded = await traces(trace);
    expect(loaded.size).toBe(3);
    const primary = loaded.get(pid)!;
    expect(primary.some((u) => u.endsWith('/dist/cluster/primary.js'))).toBe(true);
    // The trace sees the schema where it is built (so the workers' empty list below means something).
    expect(matching(primary, SCHEMA).length).toBeGreaterThan(0);
    expect(matching(primary, [...FTP, ...OPTIONAL])).toEqual([]);
    for (const [p, urls] of loaded) {
      if (p === pid) continue;
      // The trace sees a worker's FTP code (so an empty list below means something).
      expect(urls.some((u) => u.endsWith('/dist/server.js'))).toBe(true);
      expect(matching(urls, OPTIONAL)).toEqual([]);
      // A worker takes the primary's checked config: it builds no config schema (zod), loads no CLI.
      expect(matching(urls, SCHEMA)).toEqual([]);
    }
  });

  it('a metrics endpoint loads prom-client (the trace sees a configured module)', async () => {
    const dir = await startedOnce();
    const trace = await tempDir();
    const served = await Served.start([...loopbackArgs(dir), '--metrics-listen', '127.0.0.1:0'], { cwd: dir, env: { NODE_OPTIONS: `--import ${TRACE}`, MODULE_TRACE_DIR: trace } });
    await served.stop();
    const [urls] = [...(await traces(trace)).values()];
    expect(matching(urls!, [/node_modules\/prom-client\//]).length).toBeGreaterThan(0);
    expect(matching(urls!, OPTIONAL.filter((p) => !/prom-client|metrics/.test(p.source)))).toEqual([]);
  });
});
