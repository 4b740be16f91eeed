/**
 * Test servers with their lifetime tied to vitest hooks: one for a describe block (`serverForBlock`), or
 * any number started inside tests and closed after each test (`serversPerTest`).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startServer, type TestServer, type TestServerOptions } from './server.js';

/**
 * `const t = serverForBlock(options, files)` in a describe: `t` is filled in before its tests run (with
 * `files`, name to content, written into its root) and closed after them.
 */
export function serverForBlock(options: TestServerOptions = {}, files: Record<string, string | Buffer> = {}): TestServer {
  const t = {} as TestServer;
  beforeAll(async () => {
    Object.assign(t, await startServer(options));
    for (const [name, content] of Object.entries(files)) await writeFile(join(t.root, name), content);
  });
  afterAll(() => t.close?.()); // not there when the start failed
  return t;
}

/** Call at the top of a file or block: servers started through the returned function are closed after each test. */
export function serversPerTest(): (options?: TestServerOptions) => Promise<TestServer> {
  const open: TestServer[] = [];
  afterEach(async () => {
    for (const t of open.splice(0)) await t.close();
  });
  return async (options = {}) => {
    const t = await startServer(options);
    open.push(t);
    return t;
  };
}
