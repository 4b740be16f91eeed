/**
 * Test servers with their lifetime tied to vitest hooks: one for a describe block (`serverForBlock`), or
 * any number started inside tests and closed after each test (`serversPerTest`).
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startServer, type TestServer, type TestServerOptions } from './server.js';

/** `const t = serverForBlock(options)` in a describe: `t` is filled in before its tests run and closed after them. */
export function serverForBlock(options: TestServerOptions = {}): TestServer {
  const t = {} as TestServer;
  beforeAll(async () => {
    Object.assign(t, await startServer(options));
  });
  afterAll(() => t.close());
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
